"""Benchmark: the policy server and the exports at 1M listings; Postfix with our policy.

    .venv/bin/python bench/policy.py                 # 1,000,000 listings (about 2 minutes)
    .venv/bin/python bench/policy.py --size 100000 --skip-postfix

1. Fills a SQLite database with random listings (as bench/lookup.py does).
2. Times `blocklist export` in each format.
3. Starts `flask policy-server` twice, as processes of their own, with `--processes 1` and
   `--processes 2`: index build time and resident memory.
4. Loads each with many persistent connections from `--clients` client processes, one
   request in flight per connection (as Postfix does), and in the same run loads a trivial
   server that answers "action=DUNNO" without looking at anything: the baseline for what
   this client and machine can carry.
5. Postfix (private loopback instance) receiving mail from smtp-source, once asking our
   policy server and once with a static cidr: table of the same list.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import lookup as fill_helpers
from flask_migrate import upgrade

from app import create_app

FLASK = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]
TRIVIAL_SERVER = """
import asyncio, sys
class P(asyncio.Protocol):
    def connection_made(self, t): self.t = t; self.b = b""
    def data_received(self, d):
        self.b += d
        while b"\\n\\n" in self.b:
            _, self.b = self.b.split(b"\\n\\n", 1)
            self.t.write(b"action=DUNNO\\n\\n")
async def main():
    s = await asyncio.get_running_loop().create_server(P, "127.0.0.1", int(sys.argv[1]))
    print("listening", flush=True)
    await s.serve_forever()
asyncio.run(main())
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SECRET_KEY": "bench-" + "x" * 40,
        "PUBLIC_BASE_URL": "https://delist.example.net",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
    }


def fill_database(size: int, folder: Path) -> tuple[str, list]:
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    app = create_app(
        {
            **{k: v for k, v in env_for(url).items() if k in ("SECRET_KEY",)},
            "PUBLIC_BASE_URL": "https://delist.example.net",
            "DATABASE_URL": url,
        }
    )
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        networks = fill_helpers.fill(size, seed=7)
        print(f"filled {len(networks):,} listings in {time.perf_counter() - started:.1f} s")
    return url, networks


def time_exports(url: str, folder: Path) -> dict[str, float]:
    results = {}
    for fmt in ("rbldnsd", "postfix-cidr", "csv"):
        started = time.perf_counter()
        subprocess.run(
            [*FLASK, "blocklist", "export", "--format", fmt, "--output", str(folder / f"x.{fmt}")],
            env=env_for(url),
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        results[fmt] = time.perf_counter() - started
    return results


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_policy_server(url: str, port: int, processes: int) -> tuple[subprocess.Popen, float, int]:
    """The server with `processes` processes, once every one of them listens."""
    process = subprocess.Popen(
        [*FLASK, "policy-server", "--listen", f"127.0.0.1:{port}", "--processes", str(processes)],
        env=env_for(url),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    build_seconds, listings, listening = 0.0, 0, 0
    for line in process.stderr:
        if match := re.search(r"index loaded: (\d+) listings in ([\d.]+) s", line):
            listings = int(match.group(1))
            build_seconds = max(build_seconds, float(match.group(2)))
        if re.search(r"policy server \S+ listening", line):
            listening += 1
            if listening == processes:
                break
    return process, build_seconds, listings


def total_rss_mib(pid: int) -> float:
    """The resident memory of a process and of the processes it started."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return rss_mib(pid) + sum(rss_mib(int(child)) for child in children)


def start_trivial_server(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", TRIVIAL_SERVER, str(port)], stdout=subprocess.PIPE, text=True
    )
    process.stdout.readline()
    return process


def payloads(networks: list, count: int) -> list[bytes]:
    rng = random.Random(3)
    addresses = fill_helpers.probes(networks, rng, count)
    return [
        (
            "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
            f"client_address={address}\nclient_name=unknown\nhelo_name=mail.example.org\n"
            "sender=someone@example.org\nrecipient=user@example.net\ninstance=1a2b.3c4d.1\n\n"
        ).encode()
        for address in addresses
    ]


async def load(
    port: int, connections: int, seconds: float, requests: list[bytes], first: int = 0
) -> tuple[list[float], float]:
    """Latencies of every request and the time taken, `connections` clients from `first`."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = offset
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            await reader.readuntil(b"\n\n")
            latencies.append(time.perf_counter() - started)
            i += connections
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(first + n) for n in range(connections)))
    return latencies, time.perf_counter() - started


def _load_part(args: tuple) -> tuple[list[float], float]:
    return asyncio.run(load(*args))


def measure(port: int, connections: int, seconds: float, requests: list[bytes], clients: int):
    """Requests per second (summed over the client processes), p50 and p99 in ms."""
    share = connections // clients
    parts = [(port, share, seconds, requests, n * share) for n in range(clients)]
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        pool.map(_load_part, [(*part[:2], 1.0, *part[3:]) for part in parts])  # warm up
        results = pool.map(_load_part, parts)
    latencies = [latency for part, _ in results for latency in part]
    rate = sum(len(part) / elapsed for part, elapsed in results)
    quantiles = statistics.quantiles(latencies, n=100)
    return rate, statistics.median(latencies) * 1e3, quantiles[98] * 1e3


def postfix_throughput(
    policy_port: int, cidr_table: Path, messages: int, rounds: int
) -> dict[str, list[float]]:
    """Messages per second, alternating our policy and a cidr: table, `rounds` each."""
    from tests.helpers_mta import Postfix

    restrictions = {
        "policy": f"check_policy_service {{ inet:127.0.0.1:{policy_port}, timeout=5s, "
        "default_action=DUNNO }",
        "cidr": f"check_client_access cidr:{cidr_table}",
    }
    results: dict[str, list[float]] = {"policy": [], "cidr": []}
    for _ in range(rounds):
        for variant, restriction in restrictions.items():
            instance = Postfix(free_port(), policy_port)
            instance.postconf("-e", f"smtpd_client_restrictions = {restriction}")
            instance.start()
            try:
                command = [
                    "/usr/sbin/smtp-source",
                    "-s",
                    "20",
                    "-m",
                    str(messages),
                    "-l",
                    "512",
                    "-f",
                    "sender@example.org",
                    "-t",
                    "user@example.test",
                    f"127.0.0.1:{instance.smtp_port}",
                ]
                warm_up = [*command[:4], "200", *command[5:]]
                subprocess.run(warm_up, check=True, timeout=600)
                started = time.perf_counter()
                subprocess.run(command, check=True, timeout=1200)
                results[variant].append(messages / (time.perf_counter() - started))
            finally:
                instance.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-postfix", action="store_true")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="delist-bench-"))
    folder.chmod(0o755)
    url, networks = fill_database(args.size, folder)

    exports = time_exports(url, folder)
    for fmt, seconds in exports.items():
        print(f"export --format {fmt}: {seconds:.1f} s")

    ports = {1: free_port(), 2: free_port()}
    trivial_port = free_port()
    servers = {}
    for processes, port in ports.items():
        server, build_seconds, listings = start_policy_server(url, port, processes)
        servers[processes] = server
        print(
            f"policy server, {processes} process(es): {listings:,} listings, index built in "
            f"{build_seconds:.1f} s, RSS {total_rss_mib(server.pid):.0f} MiB"
        )
    trivial = start_trivial_server(trivial_port)
    policy_port = ports[1]
    try:
        requests = payloads(networks, 20_000)
        for run in (1, 2):
            base = measure(trivial_port, args.connections, args.seconds, requests, args.clients)
            for processes, port in ports.items():
                ours = measure(port, args.connections, args.seconds, requests, args.clients)
                print(
                    f"run {run}, {args.connections} connections from {args.clients} client "
                    f"processes: policy server with {processes} process(es) {ours[0]:,.0f} req/s "
                    f"(p50 {ours[1]:.2f} ms, p99 {ours[2]:.2f} ms); trivial server "
                    f"{base[0]:,.0f} req/s (p50 {base[1]:.2f} ms, p99 {base[2]:.2f} ms); "
                    f"ratio {ours[0] / base[0]:.2f}"
                )
        for processes, server in servers.items():
            rss = total_rss_mib(server.pid)
            print(f"policy server, {processes} process(es), RSS after load: {rss:.0f} MiB")
        if not args.skip_postfix:
            rates = postfix_throughput(
                policy_port, folder / "x.postfix-cidr", args.messages, args.rounds
            )
            ours, table = (statistics.median(rates[k]) for k in ("policy", "cidr"))
            runs = "; ".join(f"{k}: " + ", ".join(f"{r:.0f}" for r in v) for k, v in rates.items())
            print(
                f"postfix, {args.messages} messages from smtp-source, {args.rounds} alternating "
                f"rounds ({runs} msg/s): median with our policy {ours:.0f} msg/s, with a cidr: "
                f"table {table:.0f} msg/s, ratio {ours / table:.2f}"
            )
    finally:
        trivial.terminate()
        for server in servers.values():
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
