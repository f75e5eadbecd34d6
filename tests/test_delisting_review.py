"""What operators decide about a request, called as the admin views call it."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_network

import pytest

from app.core.actor import Actor
from app.core.errors import NotAllowed
from app.delisting import confirmation, review
from app.delisting.tokens import TokenError
from app.listing import blocklist
from app.models import RequestStatus
from tests.helpers import T0
from tests.helpers_delisting import OPERATOR, SENDER, link_of, list_networks, mails, submit, trail

pytestmark = pytest.mark.usefixtures("ctx")

DECIDED = T0 + timedelta(hours=2)
KEPT = T0 + timedelta(minutes=30)  # before a removal confirmed at T0 takes effect
DELAY = timedelta(hours=1)


def in_review():
    [listing] = list_networks("192.0.2.0/24")
    return submit("192.0.2.9").delist_request, listing


def test_approving_schedules_the_removal_of_the_range_and_tells_the_sender():
    request, listing = in_review()
    review.approve(request, actor=OPERATOR, why="Cleaned up", now=DECIDED)
    assert (request.status, request.listing_id, request.removal_effective_at) == (
        RequestStatus.SCHEDULED,
        listing.id,
        DECIDED + DELAY,
    )
    assert (listing.removal_effective_at, listing.removal_request_id) == (
        DECIDED + DELAY,
        request.id,
    )
    assert trail("request.approved", "removal.scheduled") == [
        ("request.approved", "operator:ana@example.net", None, request.id, "Cleaned up", DECIDED),
        (
            "removal.scheduled",
            "operator:ana@example.net",
            listing.id,
            request.id,
            "effective 2026-03-02T12:00:00+00:00",
            DECIDED,
        ),
    ]
    [decision] = mails("decision")
    assert decision.recipient == "sender@example.org" and decision.request_id == request.id
    assert "approved the removal" in decision.body_text
    assert "Cleaned up" in decision.body_text


def test_approving_when_nothing_is_listed_any_more_closes_the_request():
    request, listing = in_review()
    blocklist.remove(listing, actor=Actor("op"), now=T0 + timedelta(hours=1))
    review.approve(request, actor=OPERATOR, why="ok", now=DECIDED)
    assert (request.status, request.removal_effective_at, request.closed_at) == (
        RequestStatus.DONE,
        DECIDED,
        DECIDED,
    )
    assert "approved the removal" in mails("decision")[0].body_text


def test_approving_after_the_listings_removal_took_effect_closes_the_request():
    request, listing = in_review()
    blocklist.schedule_removal(
        listing, T0 + timedelta(hours=1), delist_request=request, actor=OPERATOR, now=T0
    )
    review.approve(request, actor=OPERATOR, why="ok", now=DECIDED)
    assert (request.status, request.closed_at) == (RequestStatus.DONE, DECIDED)
    assert listing.removal_effective_at == T0 + timedelta(hours=1)


def test_denying_closes_the_request_and_tells_the_sender_why():
    request, listing = in_review()
    review.deny(request, actor=OPERATOR, why="Spam still arrives", now=DECIDED)
    assert (request.status, request.closed_at) == (RequestStatus.DENIED, DECIDED)
    assert listing.removal_effective_at is None
    assert trail("request.denied") == [
        (
            "request.denied",
            "operator:ana@example.net",
            None,
            request.id,
            "Spam still arrives",
            DECIDED,
        )
    ]
    [decision] = mails("decision")
    assert "could not approve it" in decision.body_text
    assert "Spam still arrives" in decision.body_text


@pytest.mark.parametrize("decide", [review.approve, review.deny])
def test_only_a_request_in_review_can_be_decided(decide):
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    with pytest.raises(NotAllowed) as refused:
        decide(request, actor=OPERATOR, why="x", now=DECIDED)
    assert str(refused.value) == "the request is pending, not waiting for review"
    assert request.status == RequestStatus.PENDING
    assert mails("decision") == []


def test_an_operator_can_send_a_pending_request_a_new_link():
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    old_link = link_of(mails()[0])
    review.send_new_link(request, actor=OPERATOR, now=DECIDED)
    older, newer = mails("confirmation")
    assert older.status == "cancelled"
    assert request.expires_at == DECIDED + timedelta(days=1)
    with pytest.raises(TokenError):
        confirmation.open_confirmation(old_link, DECIDED)
    assert confirmation.open_confirmation(link_of(newer), DECIDED)[0].id == request.id
    assert trail("request.link_reissued") == [
        ("request.link_reissued", "operator:ana@example.net", None, request.id, None, DECIDED)
    ]


def test_no_new_link_for_a_request_that_is_not_pending_or_not_listed():
    request, _ = in_review()
    message = "only a pending request for a listed address can get a new link"
    with pytest.raises(NotAllowed) as refused:
        review.send_new_link(request, actor=OPERATOR, now=DECIDED)
    assert str(refused.value) == message
    list_networks("203.0.113.7", "203.0.113.8")
    pending = submit("203.0.113.7").delist_request
    blocklist.remove_listing(ip_network("203.0.113.7/32"), actor=Actor("op"), now=T0)
    with pytest.raises(NotAllowed, match=message):
        review.send_new_link(pending, actor=OPERATOR, now=DECIDED)
    # Nor when the listing's scheduled removal has taken effect (the worker not yet run).
    ending = submit("203.0.113.8", email="other@example.org").delist_request
    blocklist.schedule_removal(
        ending.listing, T0 + timedelta(hours=1), delist_request=ending, actor=OPERATOR, now=T0
    )
    with pytest.raises(NotAllowed, match=message):
        review.send_new_link(ending, actor=OPERATOR, now=DECIDED)
    assert len(mails("confirmation")) == 2


def test_keeping_a_listing_cancels_the_scheduled_request():
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    confirmation.confirm(link_of(mails()[0]), actor=SENDER, now=T0)
    listing = request.listing
    review.cancel_removal(listing, actor=OPERATOR, now=KEPT, why="abuse continues")
    assert listing.removal_effective_at is None
    assert blocklist.is_listed_now(request.address, KEPT + timedelta(days=1))
    assert (request.status, request.closed_at) == (RequestStatus.CANCELLED, KEPT)
    assert trail("removal.cancelled", "request.cancelled") == [
        (
            "removal.cancelled",
            "operator:ana@example.net",
            listing.id,
            None,
            "abuse continues",
            KEPT,
        ),
        (
            "request.cancelled",
            "operator:ana@example.net",
            None,
            request.id,
            "abuse continues",
            KEPT,
        ),
    ]


def test_keeping_a_listing_leaves_a_request_that_is_already_closed():
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    confirmation.confirm(link_of(mails()[0]), actor=SENDER, now=T0)
    request.status = RequestStatus.DONE
    review.cancel_removal(request.listing, actor=OPERATOR, now=KEPT, why="x")
    assert (request.status, request.closed_at) == (RequestStatus.DONE, None)
    assert trail("request.cancelled") == []


def test_keeping_a_listing_without_a_removal_is_refused_and_changes_nothing():
    [listing] = list_networks("203.0.113.7")
    with pytest.raises(NotAllowed, match="No removal is waiting"):
        review.cancel_removal(listing, actor=OPERATOR, now=KEPT, why="x")
    assert [event[0] for event in trail()] == ["listing.added"]
