"""The worker's part of a request's life: expiring unused links, closing finished removals."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.delisting import confirmation, jobs
from app.extensions import db
from app.listing import blocklist
from app.models import DelistRequest, RequestStatus
from tests.helpers import T0
from tests.helpers_delisting import OPERATOR, SENDER, link_of, list_networks, mails, submit, trail

pytestmark = pytest.mark.usefixtures("ctx")

DELAY = timedelta(hours=1)


def confirmed(ip: str, at, email="sender@example.org"):
    list_networks(ip)
    request = submit(ip, email=email).delist_request
    confirmation.confirm(link_of(mails("confirmation")[-1]), actor=SENDER, now=at)
    return request


def test_links_unused_by_their_expiry_are_closed_as_expired():
    list_networks("203.0.113.1", "203.0.113.2", "192.0.2.0/24")
    stale = submit("203.0.113.1").delist_request
    fresh = submit("203.0.113.2", now=T0 + timedelta(hours=1)).delist_request
    in_review = submit("192.0.2.9").delist_request
    end = T0 + timedelta(days=1)
    assert jobs.expire_stale_requests(end - timedelta(microseconds=1)) == 0
    assert jobs.expire_stale_requests(end) == 1
    assert (stale.status, stale.closed_at) == (RequestStatus.EXPIRED, end)
    assert (fresh.status, in_review.status) == (RequestStatus.PENDING, RequestStatus.NEEDS_REVIEW)
    assert trail("request.expired") == [("request.expired", "worker", None, stale.id, None, end)]
    assert jobs.expire_stale_requests(end + timedelta(days=30)) == 1
    assert fresh.status == RequestStatus.EXPIRED


def test_a_pass_expires_at_most_its_limit():
    list_networks("203.0.113.1", "203.0.113.2", "203.0.113.3")
    for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        submit(ip, email=f"{ip}@example.org")
    later = T0 + timedelta(days=2)
    assert jobs.expire_stale_requests(later, limit=2) == 2
    assert jobs.expire_stale_requests(later, limit=2) == 1


def test_requests_whose_removal_took_effect_are_closed_and_the_sender_told():
    first = confirmed("203.0.113.1", T0)
    second = confirmed("203.0.113.2", T0 + timedelta(minutes=10), email="two@example.org")
    effective = T0 + DELAY
    assert jobs.finish_due_requests(effective - timedelta(microseconds=1)) == 0
    assert jobs.finish_due_requests(effective) == 1
    assert (first.status, first.closed_at) == (RequestStatus.DONE, effective)
    assert second.status == RequestStatus.SCHEDULED
    assert trail("request.done") == [("request.done", "worker", None, first.id, None, effective)]
    [removed] = mails("removed")
    assert (removed.recipient, removed.request_id) == ("sender@example.org", first.id)
    assert removed.subject == "203.0.113.1 is no longer on our blocked-senders list"
    assert jobs.finish_due_requests(effective + timedelta(hours=1)) == 1
    assert len(mails("removed")) == 2
    assert jobs.finish_due_requests(effective + timedelta(hours=2)) == 0


def test_a_pass_closes_at_most_its_limit_earliest_removal_first():
    late = confirmed("203.0.113.1", T0 + timedelta(minutes=20))
    early = confirmed("203.0.113.2", T0, email="two@example.org")
    middle = confirmed("203.0.113.3", T0 + timedelta(minutes=10), email="three@example.org")
    later = T0 + timedelta(hours=3)
    assert jobs.finish_due_requests(later, limit=2) == 2
    assert [r.status for r in (early, middle, late)] == [
        RequestStatus.DONE,
        RequestStatus.DONE,
        RequestStatus.SCHEDULED,
    ]
    assert jobs.finish_due_requests(later, limit=2) == 1


def test_closed_and_cancelled_requests_are_not_closed_again():
    request = confirmed("203.0.113.1", T0)
    request.status = RequestStatus.CANCELLED
    blocklist.keep(request.listing, actor=SENDER, now=T0, why="x")
    assert jobs.finish_due_requests(T0 + timedelta(days=1)) == 0
    assert mails("removed") == []


def _open_requests(count: int, status: RequestStatus, listing_id=None, removal_at=None) -> None:
    db.session.execute(
        sa.insert(DelistRequest),
        [
            {
                "public_id": f"bulk-{n:06d}",
                "email": "bulk@example.org",
                "ip": f"10.9.{n // 256}.{n % 256}",
                "listing_id": listing_id,
                "status": status,
                "locale": "en",
                "created_at": T0,
                "expires_at": T0 + timedelta(hours=1),
                "removal_effective_at": removal_at,
            }
            for n in range(count)
        ],
    )


def test_a_pass_handles_a_thousand_requests_by_default():
    _open_requests(1001, RequestStatus.PENDING)
    later = T0 + timedelta(days=2)
    assert jobs.expire_stale_requests(later) == 1000
    assert jobs.expire_stale_requests(later) == 1


def test_a_pass_finishes_a_thousand_removals_by_default():
    [listing] = list_networks("203.0.113.9")
    _open_requests(1001, RequestStatus.SCHEDULED, listing.id, removal_at=T0 + DELAY)
    later = T0 + timedelta(days=2)
    assert jobs.finish_due_requests(later) == 1000
    assert jobs.finish_due_requests(later) == 1
    assert len(mails("removed")) == 1001


def test_requests_of_an_expired_listing_lapse_a_thousand_per_pass():
    [listing] = list_networks("203.0.113.9")
    listing.expires_at = T0 + timedelta(hours=1)
    _open_requests(1001, RequestStatus.SCHEDULED, listing_id=listing.id)
    assert jobs.close_lapsed_requests(T0 + timedelta(hours=2)) == 0  # not finalised yet
    assert blocklist.finalise_due_listings(T0 + timedelta(hours=2)).expiries == 1
    assert jobs.close_lapsed_requests(T0 + timedelta(hours=2)) == 1000
    assert jobs.close_lapsed_requests(T0 + timedelta(hours=2)) == 1
    lapsed = trail("request.lapsed")
    assert len(lapsed) == 1001
    assert {event[:2] for event in lapsed} == {("request.lapsed", "worker")}
    assert len({event[3] for event in lapsed}) == 1001  # each request once


def test_requests_of_a_listing_an_operator_removed_do_not_lapse():
    """Only an expiry makes a request lapse: after an operator's removal (or a scheduled one)
    the request is closed by its own path (a decision, or finish_due_requests)."""
    removed, scheduled, expired = list_networks("203.0.113.1", "203.0.113.2", "203.0.113.3")
    expired.expires_at = T0 + timedelta(hours=1)
    for listing, n in ((removed, 1), (scheduled, 2), (expired, 3)):
        db.session.add(
            DelistRequest(
                public_id=f"open-{n:06d}",
                email="sender@example.org",
                ip=f"203.0.113.{n}",
                listing_id=listing.id,
                status=RequestStatus.NEEDS_REVIEW,
                locale="en",
                created_at=T0,
            )
        )
    blocklist.remove(removed, actor=OPERATOR, now=T0 + timedelta(minutes=5))
    scheduled.removal_effective_at = T0 + timedelta(minutes=30)
    scheduled.removal_scheduled_by = "operator:ana"
    assert blocklist.finalise_due_listings(T0 + timedelta(hours=2)) == (1, 1)
    assert jobs.close_lapsed_requests(T0 + timedelta(hours=2)) == 1
    statuses = db.session.execute(
        sa.select(DelistRequest.ip, DelistRequest.status).order_by(DelistRequest.ip)
    ).all()
    assert statuses == [
        ("203.0.113.1", RequestStatus.NEEDS_REVIEW),
        ("203.0.113.2", RequestStatus.NEEDS_REVIEW),
        ("203.0.113.3", RequestStatus.LAPSED),
    ]
