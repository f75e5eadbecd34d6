"""Evidence and hits: each sighting is counted and kept (the newest 20), keeps the network
listed for its lifetime, and is shown to operators in full but to senders only as counts."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.actor import Actor
from app.core.errors import Invalid
from app.extensions import db
from app.listing import hits, lifetimes
from app.listing.addresses import parse_address, parse_network
from app.models import AuditEvent, ListingEvidence
from app.policy import index as policy_index
from tests.helpers import T0, page_text
from tests.helpers_admin import signed_in

TRAP = Actor("apikey:trap-feed")
HOUR = timedelta(hours=1)


def report(at, text="to spamtrap@example.net", network="203.0.113.7", **kwargs):
    evidence = hits.Evidence("trap", "trap-feed", text)
    return hits.report_abuse(
        parse_network(network), "Spam trap hits", evidence, actor=TRAP, now=at, **kwargs
    )


def test_abuse_lists_once_then_counts_hits_and_keeps_the_listing_alive(ctx):
    first = report(T0, lifetime=lifetimes.Asked(3600))
    assert first.created
    listing = first.listing
    assert (listing.hit_count, listing.seen_first, listing.expires_at) == (1, T0, T0 + HOUR)
    again = report(T0 + 30 * timedelta(minutes=1))
    assert not again.created and again.listing.id == listing.id
    assert listing.hit_count == 2
    assert (listing.seen_first, listing.seen_last) == (T0, T0 + timedelta(minutes=30))
    # The expiry moves to at least the hit plus the lifetime, and never back.
    assert listing.expires_at == T0 + timedelta(minutes=90)
    listing.expires_at = T0 + 5 * HOUR
    report(T0 + timedelta(minutes=40))
    assert listing.expires_at == T0 + 5 * HOUR
    db.session.commit()
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["listing.added", "listing.hit", "listing.hit"]


def test_a_permanent_listing_stays_permanent_when_hit(ctx):
    listing = report(T0, lifetime=lifetimes.PERMANENT).listing
    report(T0 + HOUR)
    assert (listing.expires_at, listing.hit_count) == (None, 2)


def test_the_newest_twenty_items_of_evidence_are_kept(ctx):
    for minute in range(25):
        listing = report(T0 + timedelta(minutes=minute), text=f"sighting {minute}").listing
    kept = hits.timeline(listing)
    assert [item.text for item in kept] == [f"sighting {m}" for m in range(24, 4, -1)]
    assert listing.hit_count == 25
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ListingEvidence)) == 20


def test_a_hit_reaches_the_policy_service_without_a_rebuild(ctx):
    listing = report(T0, lifetime=lifetimes.Asked(3600)).listing
    db.session.commit()
    snapshot = policy_index.build(T0)
    address = parse_address("203.0.113.7")
    later = (T0 + timedelta(minutes=70)).timestamp()
    assert snapshot.index.lookup(address, later) is None  # expired by then, as things stand
    report(T0 + timedelta(minutes=30))
    db.session.commit()
    policy_index.refresh(snapshot, T0 + timedelta(minutes=31))
    assert snapshot.index.lookup(address, later) == listing.id


@pytest.mark.parametrize(
    ("kind", "source", "text", "message"),
    [
        ("spam", "feed", None, "kind must be one of trap, filter, report, operator"),
        ("trap", "", None, "the source must be 1 to 100 characters"),
        ("trap", "x" * 101, None, "the source must be 1 to 100 characters"),
        ("trap", "feed", "x" * 501, "at most 500 characters"),
    ],
)
def test_bad_evidence_is_refused(kind, source, text, message):
    with pytest.raises(Invalid, match=message):
        hits.Evidence(kind, source, text)


def test_senders_see_counts_and_operators_see_the_evidence(app, client):
    with app.app_context():
        report(T0)
        listing = report(T0 + HOUR, text="RCPT TO trap-4711@example.net").listing
        db.session.commit()
        page = f"/admin/listings/{listing.id}"
    sender_view = page_text(client.get("/lookup?ip=203.0.113.7"))
    assert (
        "Abuse seen 2 times, first at Mar 2, 2026, 9:00:00 AM UTC, last at Mar 2, 2026, "
        "10:00:00 AM UTC" in sender_view
    )
    assert "trap-4711" not in sender_view and "spamtrap@" not in sender_view
    operator_view = page_text(signed_in(app).get(page))
    assert "RCPT TO trap-4711@example.net" in operator_view
    assert "to spamtrap@example.net" in operator_view
    assert "Hits 2 · first seen Mar 2, 2026, 9:00:00 AM UTC" in operator_view
    japanese = page_text(client.get("/lookup?ip=203.0.113.7", headers={"Accept-Language": "ja"}))
    assert "不正な送信の確認" in japanese and "trap-4711" not in japanese


def test_a_listing_seen_once_says_so(app, client):
    with app.app_context():
        report(T0)
        db.session.commit()
    assert "Abuse seen once, at Mar 2, 2026, 9:00:00 AM UTC" in page_text(
        client.get("/lookup?ip=203.0.113.7")
    )


def test_a_listing_made_between_the_look_ups_is_hit_not_lost(ctx, monkeypatch):
    """Another transaction may list the network after the batch's look-up and before the
    add: the add then finds it, and the report must count as a hit on it."""
    from app.listing import blocklist

    listing = report(T0).listing
    db.session.commit()
    monkeypatch.setattr(blocklist, "unfinalised_listings", lambda keys: {})
    again = report(T0 + HOUR)
    assert not again.created and again.listing.id == listing.id
    assert listing.hit_count == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ListingEvidence)) == 2
