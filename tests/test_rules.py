"""Each rule the product depends on has one definition, and every path agrees with it.

The data sit on the edges: a removal that takes effect exactly at `END`, asked a moment
before, at and after it, beside listings that never end, ended long ago or were removed.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from ipaddress import ip_address, ip_network

import pytest
import sqlalchemy as sa

from app.admin.dashboard import active_listings as dashboard_count
from app.core.actor import Actor
from app.core.errors import Invalid, NotAllowed
from app.delisting import confirmation, jobs, notices, sender_view
from app.delisting.sender_view import SenderStatus
from app.delisting.tokens import TokenError, sign_confirmation
from app.extensions import db
from app.listing import blocklist, lifetimes
from app.listing.lookup import look_up
from app.listing.search import search
from app.mail import outbox
from app.models import (
    OPEN_REQUEST_STATUSES,
    REMOVING_STATUSES,
    REQUEST_STATUSES,
    DelistRequest,
    Listing,
    OutboxMessage,
    RequestStatus,
)
from app.models.request import _in_list_sql
from app.policy import index as policy_index
from tests.helpers import T0
from tests.helpers_delisting import outbox_row

END = T0 + timedelta(hours=1)
EDGES = (END - timedelta(microseconds=1), END, END + timedelta(microseconds=1))
LATER = END + timedelta(hours=1)
OPERATOR = Actor("operator:rules@example.net")

# network -> in force at each edge time (before, at, after END)
EXPECTED = {
    "203.0.113.1/32": (True, True, True),  # listed, nothing planned
    "203.0.113.2/32": (True, False, False),  # removal takes effect at END
    "203.0.113.3/32": (False, False, False),  # removed by an operator before END
    "198.51.100.0/24": (True, False, False),  # a range whose removal takes effect at END
    "2001:db8::/64": (True, True, True),
    "203.0.113.4/32": (True, False, False),  # expires at END
    "203.0.113.5/32": (True, True, True),  # permanent
    "203.0.113.6/32": (True, False, False),  # expires at END, before its scheduled removal
}
LIFETIMES = {
    "203.0.113.4/32": lifetimes.Asked(int((END - T0).total_seconds())),
    "203.0.113.5/32": lifetimes.PERMANENT,
    "203.0.113.6/32": lifetimes.Asked(int((END - T0).total_seconds())),
}


def _request_for(
    listing: Listing, status: RequestStatus = RequestStatus.SCHEDULED
) -> DelistRequest:
    delist_request = DelistRequest(
        public_id=secrets.token_urlsafe(16),
        email="rules@example.org",
        ip=listing.network.split("/")[0],
        listing_id=listing.id,
        status=status,
        locale="en",
        created_at=T0,
    )
    db.session.add(delist_request)
    db.session.flush()
    return delist_request


@pytest.fixture
def listed(ctx):
    """The listings of EXPECTED, written and committed at T0."""
    ids = {}
    for network, _ in EXPECTED.items():
        lifetime = LIFETIMES.get(network, lifetimes.DEFAULT)
        listing = blocklist.add_listing(
            ip_network(network), "rules", actor=OPERATOR, now=T0, lifetime=lifetime
        )
        ids[network] = listing.listing.id
    for network, at in (
        ("203.0.113.2/32", END),
        ("198.51.100.0/24", END),
        ("203.0.113.6/32", LATER),
    ):
        listing = db.session.get(Listing, ids[network])
        blocklist.schedule_removal(
            listing, at, delist_request=_request_for(listing), actor=OPERATOR, now=T0
        )
    blocklist.remove_listing(ip_network("203.0.113.3/32"), actor=OPERATOR, now=T0)
    db.session.commit()
    return ids


def _expected_at(i: int) -> set[str]:
    return {network for network, states in EXPECTED.items() if states[i]}


@pytest.mark.parametrize("i", range(3), ids=["before", "at", "after"])
def test_every_path_agrees_on_whether_a_listing_is_in_force(listed, i):
    t = EDGES[i]
    expected = _expected_at(i)
    listings = {listing.network: listing for listing in db.session.scalars(sa.select(Listing))}

    in_python = {n for n, listing in listings.items() if listing.in_force_at(t)}
    in_sql = set(db.session.scalars(sa.select(Listing.network).where(Listing.in_force_at(t))))
    exported = {row.network for row in blocklist.active_listings(t)}
    snapshot = policy_index.build(T0)
    indexed = {
        n for n in listings if snapshot.index.lookup(ip_network(n)[0], t.timestamp()) is not None
    }
    looked_up = {n for n in listings if look_up(ip_network(n)[0], t).listed}
    found = {n for n in listings if blocklist.find_listing(ip_network(n)[0], t) is not None}
    searched = {listing.network for listing in search("", "active", None, t).items}
    not_searched = {listing.network for listing in search("", "removed", None, t).items}

    assert in_python == in_sql == exported == indexed == looked_up == found == expected
    assert searched == expected and not_searched == set(listings) - expected
    assert dashboard_count(t) == len(expected)


def test_the_worker_finalises_exactly_the_listings_no_longer_in_force(listed):
    unfinalised = sa.select(Listing.network).where(Listing.removed_at.is_(None))
    assert blocklist.finalise_due_listings(EDGES[0]) == (0, 0)
    assert blocklist.finalise_due_listings(END) == (2, 2)  # (removals, expiries)
    db.session.commit()
    ended = dict(db.session.execute(sa.select(Listing.network, Listing.removed_by)).all())
    assert ended["203.0.113.4/32"] == ended["203.0.113.6/32"] == "expiry"
    assert ended["203.0.113.2/32"] == OPERATOR.name
    assert set(db.session.scalars(unfinalised)) == _expected_at(2)
    assert {row.network for row in blocklist.active_listings(END)} == _expected_at(1)


def _scheduled_request() -> DelistRequest:
    listing = blocklist.add_listing(
        ip_network("192.0.2.9/32"), "rules", actor=OPERATOR, now=T0
    ).listing
    delist_request = _request_for(listing)
    delist_request.removal_effective_at = blocklist.schedule_removal(
        listing, END, delist_request=delist_request, actor=OPERATOR, now=T0
    )
    db.session.commit()
    return delist_request


@pytest.mark.parametrize("i", range(3), ids=["before", "at", "after"])
def test_every_path_agrees_on_whether_a_removal_has_taken_effect(ctx, i):
    t = EDGES[i]
    delist_request = _scheduled_request()
    taken_effect = t >= END

    in_sql = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(DelistRequest)
        .where(DelistRequest.removal_in_effect_at(t))
    )
    timeline = [entry.label for entry in sender_view.request_timeline(delist_request, t)]
    removed = sender_view.sender_status(delist_request, t) is SenderStatus.REMOVED

    assert delist_request.removal_in_effect_at(t) is taken_effect
    assert in_sql == int(taken_effect)
    assert removed is taken_effect
    assert ("Removal took effect" in [str(label) for label in timeline]) is taken_effect
    assert look_up(ip_address("192.0.2.9"), t).listed is not taken_effect
    assert jobs.finish_due_requests(t) == int(taken_effect)


def _pending_request(expires_at) -> tuple[DelistRequest, str]:
    listing = blocklist.add_listing(
        ip_network("192.0.2.8/32"), "rules", actor=OPERATOR, now=T0
    ).listing
    delist_request = DelistRequest(
        public_id=secrets.token_urlsafe(16),
        email="rules@example.org",
        ip="192.0.2.8",
        listing_id=listing.id,
        status=RequestStatus.PENDING,
        locale="en",
        created_at=T0,
    )
    nonce = notices.new_link(delist_request, T0)
    delist_request.expires_at = expires_at
    db.session.add(delist_request)
    db.session.commit()
    return delist_request, sign_confirmation(delist_request.id, nonce)


@pytest.mark.parametrize("i", range(3), ids=["before", "at", "after"])
def test_every_path_agrees_on_whether_a_link_has_expired(ctx, i):
    t = EDGES[i]
    delist_request, token = _pending_request(expires_at=END)
    expired = t >= END

    in_sql = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(DelistRequest)
        .where(DelistRequest.link_expired_at(t))
    )
    assert delist_request.link_expired_at(t) is expired
    assert in_sql == int(expired)
    assert (sender_view.sender_status(delist_request, t) is SenderStatus.EXPIRED) is expired
    if expired:
        with pytest.raises(TokenError) as refused:
            confirmation.open_confirmation(token, t)
        assert refused.value.reason == "expired"
    else:
        assert confirmation.open_confirmation(token, t)[0].id == delist_request.id
    assert jobs.expire_stale_requests(t) == int(expired)


def test_an_expired_link_not_yet_closed_by_the_worker_says_expired_when_pressed(ctx):
    _, token = _pending_request(expires_at=END)
    with pytest.raises(TokenError) as refused:
        confirmation.confirm(token, actor=Actor.sender(None), now=END)
    assert refused.value.reason == "expired"


def test_the_database_refuses_a_status_the_code_does_not_know(ctx):
    listing = blocklist.add_listing(ip_network("192.0.2.7/32"), "r", actor=OPERATOR, now=T0)
    db.session.commit()
    insert = sa.text(
        "INSERT INTO delist_request (public_id, email, ip, listing_id, status, locale, created_at)"
        " VALUES (:p, 'a@example.org', '192.0.2.7', :l, :s, 'en', :t)"
    )
    for status in REQUEST_STATUSES:
        params = {"p": secrets.token_hex(8), "l": listing.listing.id, "t": T0.replace(tzinfo=None)}
        with db.session.begin_nested():
            db.session.execute(insert, {**params, "s": str(status)})
            db.session.execute(sa.text("DELETE FROM delist_request"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(insert, {**params, "s": "approved"})


@pytest.mark.parametrize("status", REQUEST_STATUSES)
def test_only_open_statuses_hold_the_ip(ctx, status):
    listing = blocklist.add_listing(ip_network("192.0.2.6/32"), "r", actor=OPERATOR, now=T0)
    _request_for(listing.listing, status)
    if status in OPEN_REQUEST_STATUSES:
        with pytest.raises(sa.exc.IntegrityError):
            _request_for(listing.listing, RequestStatus.PENDING)
    else:
        assert _request_for(listing.listing, RequestStatus.PENDING).is_open


def _message(status: str, kind: str) -> OutboxMessage:
    message = outbox_row(status, T0, kind=kind)
    db.session.add(message)
    db.session.flush()
    return message


MAIL_CASES = [
    (status, kind)
    for status in ("queued", "sending", "sent", "failed", "cancelled")
    for kind in ("confirmation", "decision", "removed")
]


@pytest.mark.parametrize(("status", "kind"), MAIL_CASES)
def test_which_mail_may_be_resent_is_one_rule_for_the_service_and_the_page(ctx, status, kind):
    message = _message(status, kind)
    allowed = status == "failed" or (status == "sent" and kind != "confirmation")
    assert message.may_be_resent is allowed
    if allowed:
        again = outbox.resend(message, actor=OPERATOR, now=T0)
        assert again.status == "queued"
    else:
        with pytest.raises(NotAllowed):
            outbox.resend(message, actor=OPERATOR, now=T0)


def test_the_reason_limit_is_the_columns_width_on_every_path(ctx):
    width = Listing.__table__.c.reason.type.length
    assert width == blocklist.MAX_REASON_LENGTH
    network = ip_network("192.0.2.5/32")
    with pytest.raises(Invalid):
        blocklist.add_listing(network, "x" * (width + 1), actor=OPERATOR, now=T0)
    with pytest.raises(Invalid):
        blocklist.add_listing(network, "   ", actor=OPERATOR, now=T0)
    listing = blocklist.add_listing(network, "x" * width, actor=OPERATOR, now=T0).listing
    assert len(listing.reason) == width


@pytest.mark.parametrize(
    "statuses",
    [OPEN_REQUEST_STATUSES, REMOVING_STATUSES, frozenset({RequestStatus.EXPIRED})],
    ids=["open", "removing", "expired"],
)
def test_the_sql_condition_for_a_set_of_statuses_selects_exactly_those(ctx, statuses):
    for status in REQUEST_STATUSES:
        db.session.add(
            DelistRequest(
                public_id=f"status-{status}",
                email="rules@example.org",
                ip=f"192.0.2.{REQUEST_STATUSES.index(status) + 1}",
                status=status,
                locale="en",
                created_at=T0,
            )
        )
    db.session.flush()
    condition = _in_list_sql("delist_request.status", statuses)
    selected = db.session.scalars(sa.select(DelistRequest.status).where(condition))
    assert set(selected) == statuses


def test_the_open_request_condition_is_the_indexs_own_text(ctx):
    """SQLite takes an ON CONFLICT target for a partial index only if its WHERE reads the same."""
    condition = str(_in_list_sql("status", OPEN_REQUEST_STATUSES))
    assert condition == "status IN ('pending', 'needs_review', 'scheduled')"
    if db.engine.dialect.name == "sqlite":
        index_sql = db.session.scalar(
            sa.text("SELECT sql FROM sqlite_master WHERE name = 'uq_delist_request_open_ip'")
        )
        assert index_sql.endswith(f"WHERE {condition}")
