"""Several workers on one PostgreSQL (the documented way to scale out) do each job once."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_network

import pytest
import sqlalchemy as sa

from app.cli import worker
from app.core.actor import Actor
from app.delisting import lifecycle
from app.extensions import db
from app.listing import blocklist, lifetimes
from app.models import AuditEvent, Listing, OutboxMessage
from tests.helpers import T0, run_at_once
from tests.helpers_delisting import pending_request
from tests.helpers_mail import queue_plain_mail

pytestmark = [
    pytest.mark.postgresql_only,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
COUNT = 200
DUE = T0 + timedelta(hours=1)
LATER = DUE + timedelta(minutes=1)


def _schedule_removals(app) -> None:
    """COUNT listed addresses, each with a confirmed request whose removal is due at DUE."""
    sender = Actor.sender("198.51.100.1")
    with app.app_context():
        for n in range(COUNT):
            network = ip_network(f"203.0.{n // 250}.{n % 250 + 1}/32")
            listing = blocklist.add_listing(network, "spam", actor=Actor("t"), now=T0).listing
            address = str(network.network_address)
            delist_request = pending_request(listing, address, n, expires_at=DUE)
            delist_request.confirmed_at = T0
            db.session.flush()
            app.config["DELIST_DELAY_SECONDS"] = 3600
            lifecycle.schedule(delist_request, listing, sender, T0)
        db.session.commit()


def _pass(app) -> None:
    with app.app_context():
        worker.run_once(LATER)
        db.session.remove()


def _count(statement: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))


def test_two_workers_finalise_each_removal_and_close_each_request_once(app):
    _schedule_removals(app)
    run_at_once(_pass, [(app,), (app,)])
    run_at_once(_pass, [(app,), (app,)])  # and a second round finds nothing left to do
    with app.app_context():
        effective = sa.select(AuditEvent).where(AuditEvent.action == "removal.effective")
        done = sa.select(AuditEvent).where(AuditEvent.action == "request.done")
        removed_mail = sa.select(OutboxMessage).where(OutboxMessage.kind == "removed")
        assert _count(effective) == COUNT
        assert _count(done) == COUNT
        assert _count(removed_mail) == COUNT
        assert _count(sa.select(Listing).where(Listing.removed_at.is_(None))) == 0
        per_listing = sa.select(AuditEvent.listing_id).where(
            AuditEvent.action == "removal.effective"
        )
        assert len(set(db.session.scalars(per_listing))) == COUNT


def test_two_workers_expire_each_stale_request_once(app):
    with app.app_context():
        listing = blocklist.add_listing(
            ip_network("192.0.2.0/24"), "spam", actor=Actor("t"), now=T0
        ).listing
        for n in range(COUNT):
            pending_request(
                listing, f"10.{n // 250}.{n % 250}.1", n, expires_at=T0 + timedelta(minutes=5)
            )
        db.session.commit()
    run_at_once(_pass, [(app,), (app,)])
    with app.app_context():
        expired = sa.select(AuditEvent).where(AuditEvent.action == "request.expired")
        assert _count(expired) == COUNT


def test_two_workers_record_each_expiry_and_close_each_lapsed_request_once(app):
    """Listings that expired on their own, each with an open request: two workers together
    record every expiry once and close every request once."""
    with app.app_context():
        for n in range(COUNT):
            network = ip_network(f"203.0.{n // 250}.{n % 250 + 1}/32")
            listing = blocklist.add_listing(
                network, "spam", actor=Actor("t"), now=T0, lifetime=lifetimes.Asked(3600)
            ).listing
            pending_request(
                listing, str(network.network_address), n, expires_at=T0 + timedelta(days=1)
            )
        db.session.commit()
    run_at_once(_pass, [(app,), (app,)])
    run_at_once(_pass, [(app,), (app,)])
    with app.app_context():
        expired = sa.select(AuditEvent).where(AuditEvent.action == "listing.expired")
        lapsed = sa.select(AuditEvent).where(AuditEvent.action == "request.lapsed")
        assert _count(expired) == COUNT
        assert _count(lapsed) == COUNT
        assert _count(sa.select(Listing).where(Listing.removed_by == "expiry")) == COUNT
        per_listing = sa.select(AuditEvent.listing_id).where(AuditEvent.action == "listing.expired")
        assert len(set(db.session.scalars(per_listing))) == COUNT


def test_two_workers_send_each_mail_once(app, smtp_sink):
    """Each claims batches FOR UPDATE SKIP LOCKED: the batches never overlap."""
    with app.app_context():
        queue_plain_mail(COUNT, now=T0)
        db.session.commit()

    def deliver(app):
        with app.app_context():
            report = worker.run_once(LATER).delivery
            db.session.remove()
            return report

    reports = run_at_once(deliver, [(app,), (app,)])
    assert sorted(r.sent > 0 for r in reports) == [True, True]  # both took a share
    assert sum(r.sent for r in reports) == COUNT
    ids = [m["Message-ID"] for m in smtp_sink.messages]
    assert len(ids) == len(set(ids)) == COUNT
    with app.app_context():
        sent = sa.select(OutboxMessage).where(
            OutboxMessage.status == "sent", OutboxMessage.attempts == 1
        )
        assert _count(sent) == COUNT
        assert _count(sa.select(AuditEvent).where(AuditEvent.action == "mail.sent")) == COUNT
