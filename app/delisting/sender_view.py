"""A request as its sender sees it: its state on the status page, its history, its mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.listing import enforcement
from app.models import AuditEvent, DelistRequest, OutboxMessage, RequestStatus


class SenderStatus(StrEnum):
    """What the status page says; time-based like lookups, so it is right before the worker runs."""

    PENDING = "pending"
    NEEDS_REVIEW = "needs_review"
    SCHEDULED = "scheduled"
    REMOVED = "removed"
    EXPIRED = "expired"
    LAPSED = "lapsed"  # the listing expired on its own: nothing is left to remove
    CLOSED = "closed"  # denied or cancelled: the decision came by mail


def sender_status(delist_request: DelistRequest, now: datetime) -> SenderStatus:
    """The request's state as the sender sees it at `now`."""
    if delist_request.removal_in_effect_at(now):
        return SenderStatus.REMOVED
    if delist_request.status == RequestStatus.LAPSED or _listing_expired(delist_request, now):
        return SenderStatus.LAPSED
    if delist_request.link_expired_at(now) or delist_request.status == RequestStatus.EXPIRED:
        return SenderStatus.EXPIRED
    if delist_request.status in (
        RequestStatus.PENDING,
        RequestStatus.NEEDS_REVIEW,
        RequestStatus.SCHEDULED,
    ):
        return SenderStatus(delist_request.status.value)
    return SenderStatus.CLOSED


def _listing_expired(delist_request: DelistRequest, now: datetime) -> bool:
    """An open request whose listing has expired (recorded so or not yet)."""
    listing = delist_request.listing
    return delist_request.is_open and listing is not None and listing.expired_by(now)


def removal_reach(
    delist_request: DelistRequest, now: datetime, stale_seconds: int
) -> enforcement.Coverage | None:
    """Once the removal is in effect, which mail servers' copies of the list apply it."""
    effective = delist_request.removal_effective_at
    if effective is None or not delist_request.removal_in_effect_at(now):
        return None
    return enforcement.removal_coverage(effective, now, stale_seconds)


def find_by_public_id(public_id: str) -> DelistRequest | None:
    if not 10 <= len(public_id) <= 32:
        return None
    return db.session.scalar(sa.select(DelistRequest).where(DelistRequest.public_id == public_id))


LABELS = {
    "request.submitted": _l("Request received"),
    "request.needs_review": _l("Passed to an operator for review"),
    "request.recipient_changed": _l("Email address for the link changed"),
    "request.link_reissued": _l("New confirmation link requested"),
    "mail.sent": _l("Email sent"),
    "mail.failed": _l("Email could not be delivered"),
    "request.confirmed": _l("Delisting confirmed"),
    "removal.scheduled": _l("Removal scheduled"),
    "request.done": _l("Removal took effect"),
    "request.expired": _l("Link expired without confirmation"),
    "request.lapsed": _l("The listing expired on its own"),
    "request.approved": _l("Approved by an operator"),
    "request.denied": _l("Refused by an operator"),
    "request.cancelled": _l("Removal cancelled by an operator"),
}

MAIL_STATES = {
    "queued": _l("waiting to be sent"),
    "sending": _l("being sent"),
    "sent": _l("sent"),
    "failed": _l("could not be delivered"),
    "cancelled": _l("replaced by a newer email before it was sent"),
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    label: str


def request_timeline(delist_request: DelistRequest, now: datetime) -> list[Entry]:
    """What happened to the request, oldest first, including a removal now in force."""
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.request_id == delist_request.id, AuditEvent.action.in_(LABELS))
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    entries = [Entry(event.at, LABELS[event.action]) for event in events]
    done = any(event.action == "request.done" for event in events)
    effective = delist_request.removal_effective_at
    if delist_request.removal_in_effect_at(now) and effective is not None and not done:
        entries.append(Entry(effective, LABELS["request.done"]))
    return entries


class MailOutcome(StrEnum):
    """What became of one of our emails, as far as our mail server told us."""

    WAITING = "waiting"  # not tried yet
    ACCEPTED = "accepted"  # our mail server took it for delivery
    DEFERRED = "deferred"  # a try failed (refused for now, or no server); the worker retries
    REFUSED = "refused"  # given up: refused for good, or too many failed tries
    CANCELLED = "cancelled"  # a newer email replaced it before it was sent


@dataclass(frozen=True)
class MailReport:
    """One email on the status page: the message (its times and the server's reply) and
    its outcome."""

    message: OutboxMessage
    outcome: MailOutcome


def mail_outcome(message: OutboxMessage) -> MailOutcome:
    if message.status == "sent":
        return MailOutcome.ACCEPTED
    if message.status == "failed":
        return MailOutcome.REFUSED
    if message.status == "cancelled":
        return MailOutcome.CANCELLED
    return MailOutcome.DEFERRED if message.attempts else MailOutcome.WAITING


def mail_reports(delist_request: DelistRequest) -> list[MailReport]:
    """The request's emails, oldest first, each with what our mail server answered."""
    return [MailReport(message, mail_outcome(message)) for message in request_mail(delist_request)]


def request_mail(delist_request: DelistRequest) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.request_id == delist_request.id)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )
