"""Benchmark: hits reported through the write API under gunicorn and wrk, against a bare Flask app.

    .venv/bin/python bench/api.py                      # SQLite in a temporary folder
    .venv/bin/python bench/api.py --database-url postgresql://postgres@127.0.0.1:5432/test

A pool of networks is listed first (`--pool` per wrk thread, each with the default
lifetime), then wrk POSTs reports of them to /api/v1/listings with a write key: every
request is a hit (count, last sighting, expiry, evidence kept, audit row, one commit);
then the same as batches of --batch reports to /api/v1/listings/batch (one commit each).
The networks cycle per thread, so concurrent hits on one row are rare but happen.
Afterwards the hits recorded in the database are counted and compared with the 2xx
answers. Both apps run under the same gunicorn settings (sync workers, --workers);
the bare app's GET / is measured before and after, and the ratio uses their mean.
Rate limits are off (RATELIMIT_ENABLED=false), as the other web benchmarks run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import lookup as helpers
from flask_migrate import upgrade
from web import SECRET, THREADS, env_for, post_init, wrk

from app import create_app
from app.accounts import api_keys
from app.core.actor import Actor
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.models import Listing
from tests.helpers import free_port
from tests.helpers_browser import gunicorn_server

# A thread's n-th report names the pool's (n mod pool)-th network of its own 10.<id>.x.y.
KEYED_JSON = (
    post_init({"Content-Type": "application/json", "Authorization": "Bearer %(key)s"})
    + """function next_report()
  n = n + 1
  local k = n %% %(pool)d
  local net = string.format("10.%%d.%%d.%%d", id, math.floor(k / 256), k %% 256)
  return '{"network": "' .. net .. '", "reason": "Spam", "kind": "trap", '
    .. '"evidence": "trap hit ' .. n .. '"}'
end
"""
)
POST_SCRIPT = (
    KEYED_JSON
    + """function request()
  return wrk.format(nil, "/api/v1/listings", nil, next_report())
end
"""
)
BATCH_SCRIPT = (
    KEYED_JSON
    + """function request()
  local reports = {}
  for i = 1, %(batch)d do
    reports[i] = next_report()
  end
  local body = '{"reports": [' .. table.concat(reports, ", ") .. ']}'
  return wrk.format(nil, "/api/v1/listings/batch", nil, body)
end
"""
)


def _app(database_url: str):
    return create_app(
        {
            "SECRET_KEY": SECRET,
            "PUBLIC_BASE_URL": "http://bench",
            "DATABASE_URL": database_url,
            "DELIST_ALLOW_NON_GLOBAL_IPS": True,
            "LOG_LEVEL": "WARNING",
        }
    )


def prepare(database_url: str, pool: int) -> str:
    """Migrate, list the pool of networks, and make a write key; return the key."""
    app = _app(database_url)
    now = datetime.now(UTC)
    with app.app_context():
        upgrade()
        for thread in range(THREADS):
            for k in range(pool):
                network = parse_network(f"10.{thread}.{k // 256}.{k % 256}")
                blocklist.add_listing(network, "Spam", actor=Actor("bench"), now=now)
        _, key = api_keys.create("bench", ["listings:write"], actor=Actor("bench"), now=now)
        db.session.commit()
        db.engine.dispose()
    return key


def hits_recorded(database_url: str) -> int:
    app = _app(database_url)
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.sum(Listing.hit_count - 1)))
        db.engine.dispose()
    return int(total or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers, both apps")
    parser.add_argument("--pool", type=int, default=1000, help="networks per wrk thread")
    parser.add_argument("--batch", type=int, default=50, help="reports per batch request")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    for _, url, _ in helpers.scratch_databases(args.database_url, [0]):
        key = prepare(url, args.pool)
        api_port, hello_port = free_port(), free_port()
        results, recorded = {}, {}
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "hits.lua"
            script.write_text(POST_SCRIPT % {"key": key, "pool": args.pool, "batch": 1})
            batch_script = Path(folder) / "batch.lua"
            batch_script.write_text(
                BATCH_SCRIPT % {"key": key, "pool": args.pool, "batch": args.batch}
            )
            with (
                gunicorn_server(
                    "hello:app",
                    {**os.environ},
                    hello_port,
                    cwd=ROOT / "bench",
                    workers=args.workers,
                ),
                gunicorn_server("wsgi:app", env_for(url, api_port), api_port, workers=args.workers),
            ):
                hello = f"http://127.0.0.1:{hello_port}/"
                base = f"http://127.0.0.1:{api_port}"
                for warm_up in (hello, base + "/api/v1/openapi.json"):
                    urllib.request.urlopen(warm_up, timeout=10).read()  # noqa: S310  (loopback)
                results["bare, before"] = wrk(hello, args.duration, args.connections)
                results[SINGLE] = wrk(
                    base + "/api/v1/listings", args.duration, args.connections, script
                )
                recorded[SINGLE] = hits_recorded(url)
                results[BATCHED] = wrk(
                    base + "/api/v1/listings/batch", args.duration, args.connections, batch_script
                )
                recorded[BATCHED] = hits_recorded(url) - recorded[SINGLE]
                results["bare, after"] = wrk(hello, args.duration, args.connections)
        report(args, url, results, recorded)


SINGLE = "POST /api/v1/listings (hit)"
BATCHED = "POST /api/v1/listings/batch (a batch of hits)"


def report(args, url: str, results: dict, recorded: dict[str, int]) -> None:
    bare = (results["bare, before"]["rate"] + results["bare, after"]["rate"]) / 2
    engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"{engine}: gunicorn --workers {args.workers} (sync), wrk -t{THREADS} "
        f"-c{args.connections} -d{args.duration}s, {args.pool * THREADS:,} listed networks; "
        f"bare app {bare:,.0f} req/s (mean of {results['bare, before']['rate']:,.0f} and "
        f"{results['bare, after']['rate']:,.0f})"
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
    print()
    seconds = args.duration
    for name, per_request in ((SINGLE, 1), (BATCHED, args.batch)):
        answered = results[name]["requests"] - results[name]["errors"]
        print(
            f"- {name}: hits recorded in the database: {recorded[name]:,} for "
            f"{answered:,} 2xx answers of {per_request} report(s) each "
            f"({recorded[name] / seconds:,.0f} hits/s over {seconds} s)."
        )


if __name__ == "__main__":
    main()
