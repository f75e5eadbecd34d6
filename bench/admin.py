"""Benchmark: bulk import of 1,000,000 lines and the admin listings page at 1k and 1M rows.

    .venv/bin/python bench/admin.py                      # SQLite
    .venv/bin/python bench/admin.py --database-url postgresql://postgres@127.0.0.1:5432/test

For each size: writes a file of random addresses and ranges, imports it with the real
`flask blocklist import` (the whole command, timed), then signs in as an operator and
times the operators' pages in-process (Flask, the queries and the template; no network):
the dashboard (which counts the active listings and draws the charts of the last 30
days and 24 hours), the listings page's first page, a deep page reached through the
keyset cursor, and a search for an address (which also finds the ranges that contain it).

Before timing, a month of history goes in, so every chart has something to draw: a tenth
of the imported listings end, spread over the 30 days (one UPDATE, which the triggers
count), and 3,000 requests and 2,000 delivered or failed mails are written.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import lookup as helpers
from flask_migrate import upgrade

from app import create_app
from tests.helpers_admin import signed_in
from tests.helpers_delisting import outbox_row

FLASK = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]


def write_list(size: int, path: Path) -> list:
    networks = list(helpers.random_networks(size, random.Random(size)))
    with path.open("w") as out:
        for network in networks:
            out.write(f"{network}\n")
    return networks


def add_history(app, size: int) -> None:
    """A month of removals, requests and mail (see the module docstring)."""
    import sqlalchemy as sa

    from app.core.clock import utcnow
    from app.extensions import db
    from app.models import DelistRequest, Listing

    now = utcnow()
    with app.app_context():
        who = sa.case((Listing.id % 3 == 0, "sender"), (Listing.id % 3 == 1, "expiry"))
        for back in range(30):  # a thirtieth of the ids per day, one statement each
            first, last = back * size // 30 + 1, (back + 1) * size // 30
            db.session.execute(
                sa.update(Listing)
                .where(Listing.id.between(first, last), Listing.id % 10 == 0)
                .values(
                    removed_at=now - timedelta(days=back),
                    removed_by=sa.func.coalesce(who, "operator:bench@example.net"),
                )
            )
        statuses = ["done", "scheduled", "denied", "expired", "pending", "needs_review"]
        db.session.add_all(
            DelistRequest(
                public_id=f"bench-{n:06d}",
                email="bench@example.com",
                ip=f"198.18.{n // 256}.{n % 256}",
                status=statuses[n % len(statuses)],
                locale="en",
                created_at=now - timedelta(minutes=14 * n + 1),
                confirmed_at=now - timedelta(minutes=14 * n) if n % 4 else None,
                removal_effective_at=now - timedelta(minutes=14 * n - 60),
            )
            for n in range(3000)
        )
        db.session.add_all(
            outbox_row("failed" if n % 20 == 0 else "sent", now - timedelta(seconds=43 * n))
            for n in range(2000)
        )
        db.session.commit()


def timed_get(client, url: str, rounds: int) -> tuple[float, float]:
    client.get(url)  # warm up
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), statistics.quantiles(times, n=20)[18]


def run(size: int, url: str, folder: Path, rounds: int) -> dict:
    env = {
        **os.environ,
        "SECRET_KEY": "bench-" + "x" * 40,
        "PUBLIC_BASE_URL": "https://delist.example.net",
        "DATABASE_URL": url,
    }
    app = create_app(
        {
            "SECRET_KEY": env["SECRET_KEY"],
            "PUBLIC_BASE_URL": env["PUBLIC_BASE_URL"],
            "DATABASE_URL": url,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
    path = folder / f"list-{size}.txt"
    networks = write_list(size, path)
    started = time.perf_counter()
    subprocess.run(
        [*FLASK, "blocklist", "import", str(path), "--reason", "benchmark import"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    import_seconds = time.perf_counter() - started
    add_history(app, size)

    client = signed_in(app, "viewer")
    first = client.get("/admin/listings").get_data(as_text=True)
    assert "Older listings" in first or size <= 50
    deep_cursor = size // 10  # ids run from 1 to size: a page near the oldest end
    probe = random.Random(1).choice(networks).network_address
    pages = {
        "dashboard": "/admin/",
        "first page": "/admin/listings",
        "deep page (cursor)": f"/admin/listings?after={deep_cursor}",
        "IP search": f"/admin/listings?q={probe}",
    }
    results = {name: timed_get(client, page, rounds) for name, page in pages.items()}
    return {"size": size, "import": import_seconds, "pages": results}


def postgres_admin(base: str):
    import sqlalchemy as sa

    server = sa.make_url(base).set(drivername="postgresql+psycopg")
    return server, sa.create_engine(server, isolation_level="AUTOCOMMIT")


def scratch_url(base: str | None, folder: Path, size: int) -> str:
    """A fresh database for one size: a SQLite file, or a new PostgreSQL database."""
    if base is None:
        return f"sqlite:///{folder / f'admin-{size}.sqlite3'}"
    import secrets

    import sqlalchemy as sa

    server, engine = postgres_admin(base)
    name = f"delist_bench_admin_{os.getpid()}_{secrets.token_hex(3)}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def drop_scratch(base: str | None, urls: list[str]) -> None:
    if base is None:
        return
    import sqlalchemy as sa

    _, engine = postgres_admin(base)
    with engine.connect() as conn:
        for url in urls:
            name = sa.make_url(url).database
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="delist-bench-admin-"))
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"# admin benchmark on {engine}")
    print("| listings | import (s) | page | p50 (ms) | p95 (ms) |")
    print("|---:|---:|---|---:|---:|")
    results, urls = [], []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            urls.append(scratch_url(args.database_url, folder, size))
            result = run(size, urls[-1], folder, args.rounds)
            results.append(result)
            for name, (p50, p95) in result["pages"].items():
                print(
                    f"| {size:,} | {result['import']:.1f} | {name} | {p50:.1f} | {p95:.1f} |",
                    flush=True,
                )
    finally:  # the scratch databases and files go, whatever happened
        drop_scratch(args.database_url, urls)
        shutil.rmtree(folder, ignore_errors=True)
    if len(results) > 1:
        for name in results[0]["pages"]:
            ratio = results[-1]["pages"][name][1] / results[0]["pages"][name][1]
            print(
                f"{name}: p95 at {results[-1]['size']:,} / at {results[0]['size']:,} = {ratio:.2f}"
            )


if __name__ == "__main__":
    main()
