"""Submitting the form, called as the view calls it: which outcome, what is stored and mailed."""

from __future__ import annotations

import logging
from datetime import timedelta
from ipaddress import ip_address

import pytest

from app.core.actor import Actor
from app.delisting import sender_view, standing, submission
from app.delisting.submission import Outcome
from app.delisting.tokens import hash_nonce, read_confirmation
from app.extensions import db
from app.models import DelistRequest, RequestStatus
from tests.helpers import T0
from tests.helpers_delisting import SENDER, link_of, list_networks, mails, requests, submit, trail

pytestmark = pytest.mark.usefixtures("ctx")

RESEND = timedelta(seconds=300)  # MAIL_RESEND_INTERVAL_SECONDS


def past_removal(ip: str, confirmed_at, status=RequestStatus.DONE, n: int = 0) -> None:
    """A self-service removal of `ip` confirmed at `confirmed_at`."""
    db.session.add(
        DelistRequest(
            public_id=f"past-{ip.replace('.', '')}-{n}-{confirmed_at:%m%d%H%M%S}",
            email="old@example.org",
            ip=ip,
            status=status,
            locale="en",
            created_at=confirmed_at,
            confirmed_at=confirmed_at,
            closed_at=confirmed_at,
        )
    )
    db.session.flush()


def test_an_address_that_is_not_listed_opens_nothing():
    list_networks("203.0.113.7")
    result = submit("203.0.113.8")
    assert (result.outcome, result.delist_request, result.listing) == (
        Outcome.NOT_LISTED,
        None,
        None,
    )
    assert requests() == [] and mails() == []
    assert [event[0] for event in trail()] == ["listing.added"]


def test_a_listed_address_opens_a_pending_request_and_queues_its_link():
    [listing] = list_networks("203.0.113.7")
    result = submit("203.0.113.7", email="Sender@example.org", locale="ja")
    [request] = requests()
    assert (result.outcome, result.delist_request.id, result.listing.id, result.retry_at) == (
        Outcome.CHECK_INBOX,
        request.id,
        listing.id,
        None,
    )
    assert (request.email, request.ip, request.listing_id, request.status, request.locale) == (
        "Sender@example.org",
        "203.0.113.7",
        listing.id,
        RequestStatus.PENDING,
        "ja",
    )
    assert (request.client_address, request.created_at, request.expires_at) == (
        "198.51.100.200",
        T0,
        T0 + timedelta(days=1),
    )
    assert request.confirmed_at is None and request.closed_at is None
    assert sender_view.find_by_public_id(request.public_id).id == request.id
    [message] = mails()
    token = read_confirmation(link_of(message))
    assert (token.request_id, hash_nonce(token.nonce)) == (request.id, request.nonce_hash)
    assert message.recipient == "Sender@example.org"
    assert trail("request.submitted") == [
        ("request.submitted", "sender", listing.id, request.id, None, T0)
    ]


def test_each_request_gets_its_own_public_id():
    list_networks("203.0.113.7", "203.0.113.8")
    first = submit("203.0.113.7").delist_request
    second = submit("203.0.113.8", email="other@example.org").delist_request
    assert first.public_id != second.public_id


def test_an_address_listed_through_a_range_goes_to_review_without_mail():
    [listing] = list_networks("192.0.2.0/24")
    result = submit("192.0.2.55")
    request = result.delist_request
    assert (result.outcome, result.listing.id) == (Outcome.RANGE_REVIEW, listing.id)
    assert request.status == RequestStatus.NEEDS_REVIEW
    assert (request.nonce_hash, request.expires_at) == (None, None)
    assert mails() == []
    assert trail() == [
        ("listing.added", "op", listing.id, None, "spam", T0),
        ("request.submitted", "sender", listing.id, request.id, None, T0),
        (
            "request.needs_review",
            "sender",
            listing.id,
            request.id,
            "listed through the range 192.0.2.0/24",
            T0,
        ),
    ]


def test_after_the_self_service_limit_a_request_goes_to_review():
    [listing] = list_networks("203.0.113.7")
    past_removal("203.0.113.7", T0 - timedelta(days=3), n=1)
    past_removal("203.0.113.7", T0 - timedelta(days=2), n=2)
    result = submit("203.0.113.7")
    assert result.outcome == Outcome.LIMIT_REVIEW
    assert result.delist_request.status == RequestStatus.NEEDS_REVIEW
    assert mails() == []
    assert trail("request.needs_review") == [
        (
            "request.needs_review",
            "sender",
            listing.id,
            result.delist_request.id,
            "self-service removals used up",
            T0,
        )
    ]


def test_one_removal_left_still_gets_a_link():
    list_networks("203.0.113.7")
    past_removal("203.0.113.7", T0 - timedelta(days=3))
    assert submit("203.0.113.7").outcome == Outcome.CHECK_INBOX


def test_sending_again_within_the_interval_waits_and_says_until_when():
    list_networks("203.0.113.7")
    first = submit("203.0.113.7").delist_request
    result = submit("203.0.113.7", now=T0 + RESEND - timedelta(seconds=1))
    assert (result.outcome, result.delist_request.id, result.retry_at) == (
        Outcome.MAIL_RECENTLY_SENT,
        first.id,
        T0 + RESEND,
    )
    assert result.listing is not None
    assert len(mails()) == 1


def test_sending_again_after_the_interval_sends_a_new_link_that_replaces_the_old():
    [listing] = list_networks("203.0.113.7")
    first = submit("203.0.113.7").delist_request
    old_hash = first.nonce_hash
    result = submit("203.0.113.7", now=T0 + RESEND, locale="ja")
    request = result.delist_request
    assert (result.outcome, request.id, result.listing.id) == (
        Outcome.CHECK_INBOX,
        first.id,
        listing.id,
    )
    assert request.nonce_hash != old_hash
    assert (request.expires_at, request.locale) == (T0 + RESEND + timedelta(days=1), "ja")
    older, newer = mails()
    assert older.status == "cancelled" and older.secret is None
    assert newer.status == "queued"
    token = read_confirmation(link_of(newer))
    assert hash_nonce(token.nonce) == request.nonce_hash
    assert trail("request.link_reissued", "request.recipient_changed") == [
        ("request.link_reissued", "sender", None, request.id, None, T0 + RESEND)
    ]


def test_a_corrected_email_address_takes_over_the_pending_request():
    list_networks("203.0.113.7")
    first = submit("203.0.113.7", email="typo@exmaple.org").delist_request
    result = submit("203.0.113.7", email="right@example.org", now=T0 + timedelta(seconds=1))
    # The new address learns of the request only from the link mailed to it.
    assert (result.outcome, result.delist_request) == (Outcome.CHECK_INBOX, None)
    assert first.email == "right@example.org"
    assert [m.recipient for m in mails()] == ["typo@exmaple.org", "right@example.org"]
    at = T0 + timedelta(seconds=1)
    assert trail("request.link_reissued", "request.recipient_changed") == [
        ("request.recipient_changed", "sender", None, first.id, None, at),
        ("request.link_reissued", "sender", None, first.id, None, at),
    ]


def test_an_expired_pending_request_is_closed_and_a_new_one_opened():
    list_networks("203.0.113.7")
    old = submit("203.0.113.7").delist_request
    later = T0 + timedelta(days=1)
    result = submit("203.0.113.7", now=later)
    assert result.outcome == Outcome.CHECK_INBOX
    assert result.delist_request.id != old.id
    assert (old.status, old.closed_at) == (RequestStatus.EXPIRED, later)
    assert trail("request.expired") == [("request.expired", "worker", None, old.id, None, later)]


def test_a_scheduled_request_is_reported_not_repeated():
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    request.status = RequestStatus.SCHEDULED
    own = submit("203.0.113.7", now=T0 + timedelta(hours=2))
    assert (own.outcome, own.delist_request.id) == (Outcome.ALREADY_SCHEDULED, request.id)
    assert own.listing is not None
    stranger = submit("203.0.113.7", email="other@example.org", now=T0 + timedelta(hours=2))
    assert (stranger.outcome, stranger.delist_request) == (Outcome.ALREADY_OPEN, None)
    assert len(mails()) == 1


def test_a_request_in_review_is_reported_not_repeated():
    list_networks("192.0.2.0/24")
    request = submit("192.0.2.9").delist_request
    result = submit("192.0.2.9", now=T0 + timedelta(hours=2))
    assert (result.outcome, result.delist_request.id) == (Outcome.IN_REVIEW, request.id)
    assert result.listing is not None


@pytest.mark.parametrize("app_overrides", [{"MAIL_PER_RECIPIENT_PER_DAY": 2}])
def test_the_daily_mail_cap_stops_new_requests_but_not_reviews():
    list_networks("203.0.113.1", "203.0.113.2", "203.0.113.3", "192.0.2.0/24")
    for ip in ("203.0.113.1", "203.0.113.2"):
        assert submit(ip).outcome == Outcome.CHECK_INBOX
    capped = submit("203.0.113.3")
    assert (capped.outcome, capped.delist_request) == (Outcome.MAIL_CAP, None)
    assert capped.listing.network == "203.0.113.3/32"
    assert submit("192.0.2.1").outcome == Outcome.RANGE_REVIEW  # sends no mail
    assert len(requests()) == 3
    # A pending request asked again is capped too, even after the resend interval.
    again = submit("203.0.113.1", now=T0 + timedelta(hours=1))
    assert (again.outcome, again.delist_request.ip) == (Outcome.MAIL_CAP, "203.0.113.1")
    assert len(mails()) == 2
    # A day later the count starts again.
    assert submit("203.0.113.3", now=T0 + timedelta(days=1)).outcome == Outcome.CHECK_INBOX


def test_each_submission_is_logged_for_security(caplog):
    caplog.set_level(logging.INFO, logger="delist.security")
    list_networks("203.0.113.7")
    submit("203.0.113.7", email="postmaster@example.org")
    [line] = [r.getMessage() for r in caplog.records if "event=delist.submission" in r.getMessage()]
    assert "outcome=check_inbox" in line
    assert "email=p***@example.org" in line
    assert "client=198.51.100.200" in line
    assert "ip=203.0.113.7" in line


class TestResendFromTheStatusPage:
    def test_a_pending_request_gets_a_new_link_after_the_interval(self):
        list_networks("203.0.113.7")
        request = submit("203.0.113.7", email="s@example.org", locale="ja").delist_request
        assert submission.resend_link(request, actor=SENDER, now=T0).outcome == (
            Outcome.MAIL_RECENTLY_SENT
        )
        result = submission.resend_link(request, actor=SENDER, now=T0 + RESEND)
        assert (result.outcome, result.delist_request.id, result.listing.id) == (
            Outcome.CHECK_INBOX,
            request.id,
            request.listing_id,
        )
        newer = mails()[-1]
        assert (newer.recipient, len(mails())) == ("s@example.org", 2)
        assert request.locale == "ja"

    @pytest.mark.parametrize("app_overrides", [{"MAIL_PER_RECIPIENT_PER_DAY": 1}])
    def test_the_daily_cap_applies(self):
        list_networks("203.0.113.7")
        request = submit("203.0.113.7").delist_request
        result = submission.resend_link(request, actor=SENDER, now=T0 + timedelta(hours=1))
        assert (result.outcome, result.delist_request.id) == (Outcome.MAIL_CAP, request.id)
        assert result.listing is not None
        assert len(mails()) == 1

    def test_nothing_is_sent_for_a_request_that_needs_no_link(self):
        list_networks("203.0.113.7", "192.0.2.0/24")
        in_review = submit("192.0.2.9").delist_request
        pending = submit("203.0.113.7").delist_request
        later = T0 + timedelta(hours=1)
        assert submission.resend_link(in_review, actor=SENDER, now=later) is None
        pending.status = RequestStatus.SCHEDULED
        assert submission.resend_link(pending, actor=SENDER, now=later) is None
        pending.status = RequestStatus.PENDING
        from app.listing import blocklist

        blocklist.schedule_removal(
            pending.listing, later, delist_request=pending, actor=Actor("op"), now=T0
        )
        assert submission.resend_link(pending, actor=SENDER, now=later) is None  # in force
        blocklist.finalise_due_listings(later)
        assert submission.resend_link(pending, actor=SENDER, now=later) is None
        assert len(mails()) == 1


class TestStanding:
    @pytest.mark.parametrize("app_overrides", [{"MAIL_PER_RECIPIENT_PER_DAY": 2}])
    def test_the_mail_cap_counts_confirmation_mails_to_one_mailbox_in_24_hours(self):
        list_networks("203.0.113.1", "203.0.113.2")
        assert not standing.mail_cap_reached("s@example.org", T0)
        submit("203.0.113.1", email="s@example.org")
        assert not standing.mail_cap_reached("S+x@example.org", T0)
        submit("203.0.113.2", email="S@example.org", now=T0 + timedelta(hours=1))
        assert standing.mail_cap_reached("s+y@example.org", T0 + timedelta(hours=1))
        assert not standing.mail_cap_reached("t@example.org", T0 + timedelta(hours=1))
        # The first mail leaves the count exactly 24 hours after it was queued.
        assert standing.mail_cap_reached("s@example.org", T0 + timedelta(days=1, seconds=-1))
        assert not standing.mail_cap_reached("s@example.org", T0 + timedelta(days=1))

    @pytest.mark.parametrize("app_overrides", [{"MAIL_PER_RECIPIENT_PER_DAY": 1}])
    def test_other_mail_to_the_mailbox_does_not_count(self):
        from app.delisting import notices

        list_networks("203.0.113.1")
        request = submit("203.0.113.1", email="s@example.org").delist_request
        db.session.delete(mails()[0])
        notices.mail_decision(request, True, "ok", T0)
        notices.mail_removed(request, T0)
        assert not standing.mail_cap_reached("s@example.org", T0)

    def test_removals_left_count_confirmed_removals_of_the_ip_in_the_window(self):
        address = ip_address("203.0.113.7")
        assert standing.self_removals_left(address, T0) == 2
        past_removal("203.0.113.7", T0 - timedelta(days=30))  # just outside the window
        past_removal("203.0.113.8", T0 - timedelta(days=1))  # another address
        past_removal("203.0.113.7", T0 - timedelta(days=1), status=RequestStatus.DENIED)
        assert standing.self_removals_left(address, T0) == 2
        past_removal("203.0.113.7", T0 - timedelta(days=30) + timedelta(seconds=1), n=1)
        assert standing.self_removals_left(address, T0) == 1
        past_removal("203.0.113.7", T0 - timedelta(days=2), n=2)
        past_removal("203.0.113.7", T0 - timedelta(days=1), n=3)
        assert standing.self_removals_left(address, T0) == 0
        known = standing.standing("x@example.org", address, T0)
        assert (known.open_request, known.mail_cap_reached, known.removals_left) == (None, False, 0)

    def test_standing_names_the_open_request_of_the_ip(self):
        list_networks("203.0.113.7")
        request = submit("203.0.113.7").delist_request
        address = ip_address("203.0.113.7")
        known = standing.standing("sender@example.org", address, T0)
        assert (known.open_request, known.removals_left) == (request.id, 2)
        request.status = RequestStatus.EXPIRED
        assert standing.standing("sender@example.org", address, T0).open_request is None
