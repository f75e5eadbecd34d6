"""Benchmark: the worker, delivering mail to a local SMTP sink and finalising due removals.

    .venv/bin/python bench/worker.py                      # SQLite in a temporary folder
    .venv/bin/python bench/worker.py --database-url postgresql://postgres@127.0.0.1:5432/test

Mail: queues --mails confirmation mails the way the form does (rendered, in the
outbox), then times `worker.run_once` passes until all are delivered to an
aiosmtpd sink on loopback. The baseline, in the same run, sends the same number
of already-built messages over one smtplib connection with nothing else: what the
SMTP conversation itself costs. Removals: lists --removals addresses with their
removal due, each with its scheduled request, and times the pass that finalises
them (and queues a "removal took effect" mail for each).
"""

from __future__ import annotations

import argparse
import smtplib
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path

import sqlalchemy as sa
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import lookup as helpers
from flask_migrate import upgrade

from app import create_app
from app.cli import worker
from app.core.actor import Actor
from app.delisting import jobs, submission
from app.extensions import db
from app.listing import blocklist
from app.mail.transport import build_message
from app.models import DelistRequest, OutboxMessage
from tests.helpers import free_port


class CountingSink:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
        return "250 OK"


def make_app(url: str, mail_port: int):
    return create_app(
        {
            "SECRET_KEY": "bench-" + "x" * 40,
            "PUBLIC_BASE_URL": "https://delist.example.net",
            "DATABASE_URL": url,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": mail_port,
            "DELIST_ALLOW_NON_GLOBAL_IPS": True,
            "MAIL_PER_RECIPIENT_PER_DAY": 1000,
            "LOG_LEVEL": "WARNING",
        }
    )


def bench_mail(app, sink: CountingSink, mails: int) -> dict:
    now = datetime.now(UTC)
    with app.app_context():
        ips = helpers.sequential_addresses(mails, 1)
        for ip in ips:
            blocklist.add_listing(ip_network(ip), "benchmark", actor=Actor("bench"), now=now)
        db.session.commit()
        for n, ip in enumerate(ips):
            submission.submit(
                f"m{n}@example.com", ip, actor=Actor.sender(None), locale="en", now=now
            )
        db.session.commit()
        built = [
            build_message(message, app.config["MAIL_DEFAULT_SENDER"])
            for message in db.session.scalars(sa.select(OutboxMessage))
        ]
        # Baseline: the SMTP conversation alone, over one connection.
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", app.config["MAIL_PORT"], timeout=10) as smtp:
            for message in built:
                smtp.send_message(message)
        baseline = time.perf_counter() - started
        sink.count = 0
        started = time.perf_counter()
        passes = 0
        while sink.count < mails and passes < 100:
            worker.run_once(datetime.now(UTC))
            passes += 1
        elapsed = time.perf_counter() - started
        assert sink.count == mails, (sink.count, mails)
    return {"mails": mails, "seconds": elapsed, "passes": passes, "baseline": baseline}


def bench_removals(app, removals: int) -> dict:
    now = datetime.now(UTC)
    due = now + timedelta(seconds=1)
    with app.app_context():
        ips = helpers.sequential_addresses(removals, 2)
        for n, ip in enumerate(ips):
            listing = blocklist.add_listing(
                ip_network(ip), "benchmark", actor=Actor("bench"), now=now
            )
            request = DelistRequest(
                public_id=f"bench-{n:08d}",
                email=f"r{n}@example.com",
                ip=str(ip),
                listing_id=listing.listing.id,
                status="scheduled",
                locale="en",
                created_at=now,
                confirmed_at=now,
                expires_at=now + timedelta(days=1),
            )
            db.session.add(request)
            db.session.flush()
            blocklist.schedule_removal(
                listing.listing, due, delist_request=request, actor=Actor("sender"), now=now
            )
            request.removal_effective_at = due
        db.session.commit()
        later = due + timedelta(seconds=1)
        started = time.perf_counter()
        finalised = blocklist.finalise_due_listings(later, limit=None).removals
        closed = 0
        while True:
            done = jobs.finish_due_requests(later)
            closed += done
            if not done:
                break
        db.session.commit()
        elapsed = time.perf_counter() - started
        assert finalised == removals and closed == removals, (finalised, closed)
    return {"removals": removals, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--removals", type=int, default=5000)
    args = parser.parse_args()
    sink = CountingSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for _, url, _ in helpers.scratch_databases(args.database_url, [0]):
            app = make_app(url, port)
            with app.app_context():
                upgrade()
            mail = bench_mail(app, sink, args.mails)
            removals = bench_removals(app, args.removals)
            with app.app_context():
                db.engine.dispose()
    finally:
        controller.stop()
    engine = "PostgreSQL" if args.database_url else "SQLite"
    rate = mail["mails"] / mail["seconds"]
    base = mail["mails"] / mail["baseline"]
    print("| Database | Measure | Figure |")
    print("|---|---|---:|")
    print(f"| {engine} | Mails delivered per second | {rate:,.0f} |")
    print(f"| {engine} | Baseline: smtplib alone, one connection | {base:,.0f} |")
    print(f"| {engine} | Ratio | {rate / base:.2f} |")
    print(
        f"| {engine} | Removals finalised per second (with the sender's mail queued) | "
        f"{removals['removals'] / removals['seconds']:,.0f} |"
    )


if __name__ == "__main__":
    main()
