"""Benchmark: "is this IP listed now?" through the SQL path, at 1k and 1M listings.

Fills a fresh database (built by the migrations) with random IPv4 and IPv6 listings,
single addresses and ranges, then times `blocklist.find_listing` for addresses that
are listed and addresses that are not. As a baseline in the same run it times a
primary-key fetch of one listing, the cheapest query the ORM can make.

    .venv/bin/python bench/lookup.py                      # SQLite in a temporary folder
    .venv/bin/python bench/lookup.py --database-url postgresql://postgres@127.0.0.1:5432/test

For PostgreSQL the given database is only used to create (and drop) a scratch one.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import network_key
from app.models import Listing, ListingPrefix

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MIX = [  # (share, version, prefix lengths)
    (0.70, 4, [32]),
    (0.10, 4, list(range(16, 31))),
    (0.15, 6, [128]),
    (0.05, 6, [32, 40, 48, 56, 64]),
]


def random_networks(count: int, rng: random.Random):
    seen = set()
    for share, version, prefixes in MIX:
        bits = 32 if version == 4 else 128
        wanted = int(count * share)
        made = 0
        while made < wanted:
            prefix = rng.choice(prefixes)
            value = rng.getrandbits(bits) >> (bits - prefix) << (bits - prefix)
            network = ipaddress.ip_network((value, prefix))
            key = network_key(network)
            if key in seen:
                continue
            seen.add(key)
            made += 1
            yield network


def insert_networks(networks: list) -> None:
    """List `networks` straight into the tables, quicker than the import (not timed)."""
    rows = [
        {
            "network": str(network),
            **network_key(network)._asdict(),
            "reason": "benchmark",
            "source": "import",
            "listed_at": NOW,
            "listed_by": "bench",
            "changed_at": NOW,
        }
        for network in networks
    ]
    for start in range(0, len(rows), 20_000):
        db.session.execute(sa.insert(Listing), rows[start : start + 20_000])
    prefixes = {(n.version, n.prefixlen) for n in networks}
    db.session.execute(
        sa.insert(ListingPrefix), [{"version": v, "prefix_len": p} for v, p in prefixes]
    )


def sequential_addresses(count: int, second_octet: int) -> list:
    """10.<second_octet>.0.1, .0.2, ...: distinct single addresses for benchmark requests."""
    return [
        ipaddress.ip_address(f"10.{second_octet}.{n // 256 % 256}.{n % 256}")
        for n in range(1, count + 1)
    ]


def fill(count: int, seed: int) -> list:
    networks = list(random_networks(count, random.Random(seed)))
    insert_networks(networks)
    db.session.commit()
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return networks


def probes(networks: list, rng: random.Random, count: int):
    """Half listed addresses (inside a listed network), half random addresses."""
    out = []
    for i in range(count):
        if i % 2 == 0:
            network = rng.choice(networks)
            offset = rng.randrange(network.num_addresses) if network.num_addresses > 1 else 0
            out.append(network.network_address + offset)
        elif rng.random() < 0.8:
            out.append(ipaddress.IPv4Address(rng.getrandbits(32)))
        else:
            out.append(ipaddress.IPv6Address(rng.getrandbits(128)))
    return out


def time_calls(fn, args) -> list[float]:
    times = []
    for arg in args:
        start = time.perf_counter()
        fn(arg)
        times.append((time.perf_counter() - start) * 1e6)
        db.session.expunge_all()
    return times


def summary(times: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(times, n=100)
    return statistics.median(times), q[94], q[98]


def run_size(url: str, size: int, queries: int) -> dict:
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench-" + "x" * 32,
            "PUBLIC_BASE_URL": "http://127.0.0.1",
        }
    )
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        networks = fill(size, seed=size)
        fill_seconds = time.perf_counter() - started
        rng = random.Random(1)
        addresses = probes(networks, rng, queries)
        ids = [rng.randrange(1, len(networks) + 1) for _ in range(queries)]
        # Warm up caches and the statement cache, then measure.
        time_calls(lambda a: blocklist.find_listing(a, NOW), addresses[:200])
        lookups = time_calls(lambda a: blocklist.find_listing(a, NOW), addresses)
        baseline = time_calls(lambda i: db.session.get(Listing, i), ids)
        hits = sum(blocklist.find_listing(a, NOW) is not None for a in addresses[:1000])
        db.session.remove()
        db.engine.dispose()
    return {
        "size": len(networks),
        "fill": fill_seconds,
        "lookup": summary(lookups),
        "baseline": summary(baseline),
        "hit_rate": hits / 1000,
    }


def scratch_databases(url: str | None, sizes: list[int]):
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="delist-bench-"))
        for size in sizes:
            yield size, f"sqlite:///{folder / f'bench-{size}.sqlite3'}", None
        return
    server = sa.make_url(url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    for size in sizes:
        name = f"delist_bench_{os.getpid()}_{secrets.token_hex(3)}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield size, server.set(database=name).render_as_string(hide_password=False), name
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--queries", type=int, default=5000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"# lookup benchmark on {engine}, {platform.python_version()}, {os.cpu_count()} cores")
    print("| listings | fill (s) | lookup p50 / p95 / p99 (µs) | PK fetch p50 (µs) | lookup/PK |")
    print("|---:|---:|---|---:|---:|")
    results = []
    for size, url, _ in scratch_databases(args.database_url, sizes):
        r = run_size(url, size, args.queries)
        results.append(r)
        p50, p95, p99 = r["lookup"]
        print(
            f"| {r['size']:,} | {r['fill']:.1f} | {p50:.0f} / {p95:.0f} / {p99:.0f} "
            f"| {r['baseline'][0]:.0f} | {p50 / r['baseline'][0]:.2f} |",
            flush=True,
        )
    if len(results) > 1:
        ratio = results[-1]["lookup"][0] / results[0]["lookup"][0]
        print(f"\nlookup p50 at {results[-1]['size']:,} / at {results[0]['size']:,}: {ratio:.2f}")


if __name__ == "__main__":
    main()
