"""What the status page shows a sender: the state, the history and the mail of a request."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core import audit
from app.delisting import confirmation, jobs, notices, review, sender_view
from app.delisting.sender_view import MailOutcome, SenderStatus
from app.extensions import db
from app.listing import blocklist
from app.models import DelistRequest, RequestStatus
from tests.helpers import T0
from tests.helpers_delisting import OPERATOR, SENDER, link_of, list_networks, mails, submit

pytestmark = pytest.mark.usefixtures("ctx")

PRESSED = T0 + timedelta(minutes=10)
EFFECTIVE = PRESSED + timedelta(hours=1)


def labels(request, now):
    return [(entry.at, str(entry.label)) for entry in sender_view.request_timeline(request, now)]


def confirmed():
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    confirmation.confirm(link_of(mails()[0]), actor=SENDER, now=PRESSED)
    return request


def test_a_pending_request_is_pending_until_its_link_expires():
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    end = request.expires_at
    assert sender_view.sender_status(request, end - timedelta(microseconds=1)) == "pending"
    assert sender_view.sender_status(request, end) == SenderStatus.EXPIRED
    request.status = RequestStatus.EXPIRED
    assert sender_view.sender_status(request, T0) == SenderStatus.EXPIRED


def test_a_scheduled_request_shows_removed_once_the_removal_is_in_force():
    request = confirmed()
    assert sender_view.sender_status(request, EFFECTIVE - timedelta(microseconds=1)) == (
        SenderStatus.SCHEDULED
    )
    assert sender_view.sender_status(request, EFFECTIVE) == SenderStatus.REMOVED
    jobs.finish_due_requests(EFFECTIVE)
    assert sender_view.sender_status(request, EFFECTIVE) == SenderStatus.REMOVED


def test_a_request_lapses_when_its_listing_expires_before_and_after_the_worker():
    [listing] = list_networks("192.0.2.0/24")
    request = submit("192.0.2.9").delist_request
    expiry = T0 + timedelta(hours=2)
    listing.expires_at = expiry
    assert sender_view.sender_status(request, expiry - timedelta(microseconds=1)) == (
        SenderStatus.NEEDS_REVIEW
    )
    assert sender_view.sender_status(request, expiry) == SenderStatus.LAPSED
    blocklist.finalise_due_listings(expiry)
    assert sender_view.sender_status(request, expiry) == SenderStatus.LAPSED
    jobs.close_lapsed_requests(expiry)
    assert request.status == RequestStatus.LAPSED
    assert sender_view.sender_status(request, expiry) == SenderStatus.LAPSED


def test_a_closed_request_does_not_lapse_with_its_listing():
    [listing] = list_networks("192.0.2.0/24")
    request = submit("192.0.2.9").delist_request
    review.deny(request, actor=OPERATOR, why="no", now=T0)
    listing.expires_at = T0 + timedelta(hours=2)
    assert sender_view.sender_status(request, T0 + timedelta(hours=3)) == SenderStatus.CLOSED


def test_review_and_the_operators_decisions():
    list_networks("192.0.2.0/24")
    request = submit("192.0.2.9").delist_request
    assert sender_view.sender_status(request, T0) == SenderStatus.NEEDS_REVIEW
    review.deny(request, actor=OPERATOR, why="no", now=T0)
    assert sender_view.sender_status(request, T0) == SenderStatus.CLOSED
    request.status = RequestStatus.CANCELLED
    assert sender_view.sender_status(request, T0) == SenderStatus.CLOSED


def test_a_request_is_found_by_its_public_id_of_a_plausible_length():
    for public_id in ("a" * 9, "b" * 10, "c" * 32):
        db.session.add(
            DelistRequest(
                public_id=public_id,
                email="s@example.org",
                ip=f"203.0.113.{len(public_id)}",
                status=RequestStatus.DONE,
                locale="en",
                created_at=T0,
            )
        )
    db.session.flush()
    assert sender_view.find_by_public_id("a" * 9) is None
    assert sender_view.find_by_public_id("b" * 10).ip == "203.0.113.10"
    assert sender_view.find_by_public_id("c" * 32).ip == "203.0.113.32"
    assert sender_view.find_by_public_id("c" * 33) is None
    assert sender_view.find_by_public_id("d" * 12) is None


def test_the_timeline_lists_the_requests_own_steps_oldest_first():
    request = confirmed()
    list_networks("203.0.113.8")
    other = submit("203.0.113.8", email="other@example.org").delist_request
    audit.record("request.unknown_step", actor=SENDER, now=T0, delist_request=request)
    # The worker records a delivery after the press, with the time the mail went out.
    audit.record("mail.sent", actor=SENDER, now=T0 + timedelta(minutes=1), delist_request=request)
    assert labels(request, PRESSED) == [
        (T0, "Request received"),
        (T0 + timedelta(minutes=1), "Email sent"),
        (PRESSED, "Delisting confirmed"),
        (PRESSED, "Removal scheduled"),
    ]
    assert labels(other, PRESSED) == [(T0, "Request received")]


def test_the_timeline_shows_the_removal_once_in_force_before_and_after_the_worker():
    request = confirmed()
    assert "Removal took effect" not in [
        label for _, label in labels(request, EFFECTIVE - timedelta(seconds=1))
    ]
    assert labels(request, EFFECTIVE)[-1] == (EFFECTIVE, "Removal took effect")
    worker_ran = EFFECTIVE + timedelta(minutes=3)
    jobs.finish_due_requests(worker_ran)
    steps = labels(request, worker_ran + timedelta(days=1))
    assert steps[-1] == (worker_ran, "Removal took effect")
    assert [label for _, label in steps].count("Removal took effect") == 1


def test_the_mail_of_a_request_is_listed_oldest_first():
    list_networks("203.0.113.7", "203.0.113.8")
    request = submit("203.0.113.7").delist_request
    submit("203.0.113.8", email="other@example.org")
    notices.mail_decision(request, True, "x", T0 + timedelta(hours=1))
    notices.mail_removed(request, T0 + timedelta(minutes=30))
    assert [m.kind for m in sender_view.request_mail(request)] == [
        "confirmation",
        "removed",
        "decision",
    ]


@pytest.mark.parametrize(
    ("status", "attempts", "outcome"),
    [
        ("queued", 0, MailOutcome.WAITING),
        ("sending", 0, MailOutcome.WAITING),
        ("queued", 1, MailOutcome.DEFERRED),
        ("sending", 2, MailOutcome.DEFERRED),
        ("sent", 1, MailOutcome.ACCEPTED),
        ("failed", 1, MailOutcome.REFUSED),
        ("cancelled", 0, MailOutcome.CANCELLED),
        ("cancelled", 1, MailOutcome.CANCELLED),
    ],
)
def test_each_email_says_what_our_mail_server_answered(status, attempts, outcome):
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    [message] = mails()
    message.status, message.attempts = status, attempts
    [report] = sender_view.mail_reports(request)
    assert (report.message, report.outcome) == (message, outcome)
