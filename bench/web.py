"""Benchmark: the portal under gunicorn and wrk, against a bare Flask app in the same run.

    .venv/bin/python bench/web.py                      # SQLite in a temporary folder
    .venv/bin/python bench/web.py --database-url postgresql://postgres@127.0.0.1:5432/test

Both apps run under the same gunicorn settings (sync workers, --workers), and wrk
(Debian's package) loads them over loopback with the same threads, connections and
duration. Measured for the portal: the form (GET /), a valid submission that writes
a request and its outbox mail (POST /, each one for another listed IP and email),
and the Delist IP page of a real link (GET /confirm/<token>). The bare app's
GET / is measured before and after them; the ratio uses the mean of the two.
Rate limits and the proof of work are off (RATELIMIT_ENABLED=false,
CHALLENGE_ENABLED=false), as the README says benchmarks should run. Afterwards the
resident memory of each portal worker is read from /proc.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from ipaddress import ip_network
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import lookup as helpers
from flask_migrate import upgrade

from app import create_app
from app.core.actor import Actor
from app.delisting import submission
from app.extensions import db
from app.listing.addresses import parse_address
from app.models import DelistRequest, OutboxMessage
from tests.helpers import free_port
from tests.helpers_browser import gunicorn_server

SECRET = "bench-" + "x" * 40
THREADS = 2  # wrk threads; each submits for its own 10.<thread>.x.y addresses
# wrk numbers its threads (0, 1, ...) so each one writes its own 10.<id>.x.y addresses.
THREAD_IDS = """
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
"""


def post_init(headers: dict[str, str]) -> str:
    """wrk's per-thread set-up for POSTs with these headers (values may hold %(...)s), after
    THREAD_IDS; `n` counts the thread's requests."""
    lines = "".join(f'  wrk.headers["{name}"] = "{value}"\n' for name, value in headers.items())
    return THREAD_IDS + f'function init(args)\n  n = 0\n  wrk.method = "POST"\n{lines}end\n'


POST_SCRIPT = (
    post_init({"Content-Type": "application/x-www-form-urlencoded", "Cookie": "%(cookie)s"})
    + """function request()
  n = n + 1
  local ip = string.format("10.%%d.%%d.%%d", id, math.floor(n / 256) %% 256, n %% 256)
  local body = "csrf_token=%(token)s&email=u" .. id .. "-" .. n .. "%%40example.com&ip=" .. ip
  return wrk.format(nil, "/", nil, body)
end
"""
)


def env_for(database_url: str, port: int) -> dict:
    return {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "DELIST_ALLOW_NON_GLOBAL_IPS": "true",
        "RATELIMIT_ENABLED": "false",
        "CHALLENGE_ENABLED": "false",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(free_port()),  # no worker runs: mail stays queued
        "LOG_LEVEL": "WARNING",
    }


def prepare(database_url: str, per_thread: int) -> str:
    """Migrate, list addresses for the submissions, and make one real link; return its path."""
    app = create_app(
        {"SECRET_KEY": SECRET, "PUBLIC_BASE_URL": "http://bench", "DATABASE_URL": database_url}
    )
    with app.app_context():
        upgrade()
        # The addresses the wrk script submits for (10.<thread>.x.y), and one for the link.
        addresses = [parse_address("203.0.113.7")]
        for thread in range(THREADS):
            addresses += helpers.sequential_addresses(per_thread, thread)
        helpers.insert_networks([ip_network(address) for address in addresses])
        submission.submit(
            "link@example.com",
            parse_address("203.0.113.7"),
            actor=Actor.sender(None),
            locale="en",
            now=datetime.now(UTC),
        )
        db.session.commit()
        body = db.session.scalar(sa.select(OutboxMessage.body_text))
        db.engine.dispose()
    return re.search(r"/confirm/[A-Za-z0-9_.\-]+", body).group(0)


def wrk(url: str, duration: int, connections: int, script: Path | None = None) -> dict:
    command = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", output).group(1))
    p50 = _ms(re.search(r"50%\s+([\d.]+\w+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rate": rate,
        "p50": p50,
        "p99": p99,
        "requests": total,
        "errors": int(bad.group(1)) if bad else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "none",
    }


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def session_and_token(base: str) -> tuple[str, str]:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, token


def worker_rss_mib(master: subprocess.Popen) -> list[float]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers, both apps")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    per_thread = 60_000  # more than any run submits
    for _, url, _ in helpers.scratch_databases(args.database_url, [0]):
        link = prepare(url, per_thread)
        portal_port, hello_port = free_port(), free_port()
        results = {}
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "post.lua"
            with (
                gunicorn_server(
                    "hello:app",
                    {**os.environ},
                    hello_port,
                    cwd=ROOT / "bench",
                    workers=args.workers,
                ),
                gunicorn_server(
                    "wsgi:app", env_for(url, portal_port), portal_port, workers=args.workers
                ) as portal,
            ):
                hello = f"http://127.0.0.1:{hello_port}/"
                base = f"http://127.0.0.1:{portal_port}"
                for warm_up in (hello, base + "/"):
                    urllib.request.urlopen(warm_up, timeout=10).read()  # noqa: S310  (loopback)
                results["bare, before"] = wrk(hello, args.duration, args.connections)
                results["GET /"] = wrk(base + "/", args.duration, args.connections)
                cookie, token = session_and_token(base)
                script.write_text(POST_SCRIPT % {"cookie": cookie, "token": token})
                results["POST /"] = wrk(base + "/", args.duration, args.connections, script)
                results["GET /confirm/<token>"] = wrk(base + link, args.duration, args.connections)
                results["bare, after"] = wrk(hello, args.duration, args.connections)
                rss = worker_rss_mib(portal)
        app = create_app(
            {"SECRET_KEY": SECRET, "PUBLIC_BASE_URL": "http://bench", "DATABASE_URL": url}
        )
        with app.app_context():
            written = db.session.scalar(sa.select(sa.func.count()).select_from(DelistRequest)) - 1
            db.engine.dispose()
        report(args, url, results, rss, written)


def report(args, url: str, results: dict, rss: list[float], written: int) -> None:
    bare = (results["bare, before"]["rate"] + results["bare, after"]["rate"]) / 2
    engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"{engine}: gunicorn --workers {args.workers} (sync), wrk -t{THREADS} "
        f"-c{args.connections} -d{args.duration}s; bare app {bare:,.0f} req/s (mean of "
        f"{results['bare, before']['rate']:,.0f} and {results['bare, after']['rate']:,.0f})"
    )
    print()
    print("| Request | req/s | Ratio to bare | p50 ms | p99 ms | Requests | Errors |")
    print("|---|---|---|---|---|---|---|")
    for name, result in results.items():
        print(
            f"| {name} | {result['rate']:,.0f} | {result['rate'] / bare:.2f} | "
            f"{result['p50']:.1f} | {result['p99']:.1f} | {result['requests']:,} | "
            f"{result['errors']} (socket: {result['socket_errors']}) |"
        )
    posted = results["POST /"]["requests"]
    print()
    print(f"POST /: {written:,} requests written for {posted:,} submissions sent.")
    print(f"Portal worker RSS after the run: {', '.join(f'{size:.0f}' for size in rss)} MiB.")


if __name__ == "__main__":
    main()
