"""Benchmark: a million listings, a hundred thousand of which expire at the same moment.

    .venv/bin/python bench/expiry.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/expiry.py --size 100000 --expiring 10000      # SQLite, smaller

1. Fills a scratch database with --size random listings (as bench/lookup.py does), every
   tenth (--expiring in all) expiring --lead seconds after the policy server is up.
2. Starts `flask policy-server` and loads it with persistent connections (one request in
   flight each, as Postfix does) from before the expiry until the worker is done, noting
   each answer's latency and when it was asked. Addresses of expiring IPv6 listings must
   be refused before the moment and let through after it, at once, before the worker has
   run and while it runs; addresses of lasting listings must be refused throughout.
3. A moment after the expiry, runs `flask worker --once`, which finalises every expired
   listing (a batch per transaction), and times it.

Reports the policy service's p50/p99 before the expiry and after it (the worker's
finalising and the index refreshes that follow it included), wrong answers, and the
worker's time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import lookup as fill_helpers
from flask_migrate import upgrade
from policy import FLASK, env_for, free_port, start_policy_server

from app import create_app
from app.extensions import db
from app.models import Listing

ALLOWED = b"action=DUNNO"


def request(address) -> bytes:
    return (
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
        f"client_address={address}\nclient_name=unknown\nhelo_name=mail.example.org\n"
        "sender=someone@example.org\nrecipient=user@example.net\ninstance=1a2b.3c4d.1\n\n"
    ).encode()


def fill(url: str, size: int, every: int) -> tuple[list, list]:
    """List `size` networks, every `every`-th without an expiry yet; return probes:
    (expiring IPv6 addresses, addresses of lasting IPv6 listings)."""
    app = create_app(
        {"SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": url, "PUBLIC_BASE_URL": "http://x"}
    )
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        networks = fill_helpers.fill(size, seed=11)
        print(f"filled {size:,} listings in {time.perf_counter() - started:.0f} s", flush=True)
        db.engine.dispose()
    # Rows are numbered in the order listed: network n has id n + 1.
    expiring = [n for i, n in enumerate(networks) if i % every == 0]
    lasting = [n for i, n in enumerate(networks) if i % every != 0]
    single = [n for n in expiring if n.version == 6 and n.prefixlen == 128]
    kept = [n for n in lasting if n.version == 6 and n.prefixlen == 128]
    return [n.network_address for n in single], [n.network_address for n in kept]


def set_expiry(url: str, every: int, at: datetime) -> int:
    engine = sa.create_engine(sa.make_url(url).set(drivername=_driver(url)))
    with engine.begin() as conn:
        changed = conn.execute(
            sa.update(Listing)
            .where((Listing.id - 1) % every == 0)
            .values(expires_at=at, lifetime_seconds=604800, changed_at=at - timedelta(days=1))
        ).rowcount
    engine.dispose()
    return changed


def _driver(url: str) -> str:
    return "postgresql+psycopg" if url.startswith("postgresql") else "sqlite"


class Load:
    """Clients asking the policy server until stopped; each answer noted with its time."""

    def __init__(self, port: int, connections: int, probes: list[tuple[bytes, str]]):
        self.port, self.connections, self.probes = port, connections, probes
        self.answers: list[tuple[float, float, str, bool]] = []  # asked at, latency, kind, refused
        self.stop = threading.Event()

    async def client(self, offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        i = offset
        while not self.stop.is_set():
            payload, kind = self.probes[i % len(self.probes)]
            asked, started = time.time(), time.perf_counter()
            writer.write(payload)
            answer = await reader.readuntil(b"\n\n")
            latency = time.perf_counter() - started
            self.answers.append((asked, latency, kind, not answer.startswith(ALLOWED)))
            i += self.connections
        writer.close()

    def run(self) -> None:
        async def everyone() -> None:
            await asyncio.gather(*(self.client(n) for n in range(self.connections)))

        asyncio.run(everyone())


def summary(latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"{statistics.median(latencies) * 1e3:.2f} / {q[98] * 1e3:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--expiring", type=int, default=100_000)
    parser.add_argument("--lead", type=float, default=15.0, help="seconds of load before")
    parser.add_argument("--after", type=float, default=15.0, help="seconds of load after")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument(
        "--ready-within", type=float, default=120.0, help="seconds the server takes to load"
    )
    args = parser.parse_args()
    every = args.size // args.expiring
    engine = "PostgreSQL" if args.database_url else "SQLite"
    for _, url, _ in fill_helpers.scratch_databases(args.database_url, [args.size]):
        expiring, lasting = fill(url, args.size, every)
        rng = random.Random(5)
        probes = [(request(a), "expiring") for a in rng.sample(expiring, min(2000, len(expiring)))]
        probes += [(request(a), "lasting") for a in rng.sample(lasting, min(2000, len(lasting)))]
        rng.shuffle(probes)
        # The expiry is set before the server starts, far enough ahead for it to load.
        port = free_port()
        moment = datetime.now(UTC) + timedelta(seconds=args.ready_within + args.lead)
        print(f"{set_expiry(url, every, moment):,} listings expire at {moment:%H:%M:%S}")
        server, build_seconds, listings = start_policy_server(url, port)
        print(f"policy server: {listings:,} listings indexed in {build_seconds:.1f} s")
        load = Load(port, args.connections, probes)
        clients = threading.Thread(target=load.run)
        clients.start()
        try:
            expiry = moment.timestamp()
            time.sleep(max(0.0, expiry - time.time() + 1))
            started = time.perf_counter()
            worker = subprocess.run(
                [*FLASK, "worker", "--once"],
                env=env_for(url),
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            worker_seconds = time.perf_counter() - started
            worker_done = time.time()
            time.sleep(args.after)
        finally:
            load.stop.set()
            clients.join()
            server.terminate()
            server.wait()
        answers = [a for a in load.answers if a[0] >= expiry - args.lead - 1]
        before = [a for a in answers if a[0] < expiry - 0.01]
        after = [a for a in answers if a[0] > expiry + 0.01]
        wrong = [
            a
            for a in before + after
            if a[3] != (a[2] == "lasting" or (a[2] == "expiring" and a[0] < expiry))
        ]
        during = [a for a in after if a[0] <= worker_done]
        print(f"# expiry at scale on {engine}: {args.size:,} listings, {args.expiring:,} expire")
        print("| Measure | Figure |")
        print("|---|---:|")
        rows = {
            "Policy answers before the expiry, p50 / p99 (ms)": summary([a[1] for a in before]),
            "Policy answers after it, worker and refreshes included, p50 / p99 (ms)": summary(
                [a[1] for a in after]
            ),
            "Of those, while the worker ran, p50 / p99 (ms)": summary([a[1] for a in during]),
            "Answers checked / wrong": f"{len(before) + len(after):,} / {len(wrong)}",
            "Worker pass finalising them (s)": f"{worker_seconds:.1f}",
            "Worker summary": worker.stdout.strip(),
        }
        for measure, figure in rows.items():
            print(f"| {measure} | {figure} |")


if __name__ == "__main__":
    main()
