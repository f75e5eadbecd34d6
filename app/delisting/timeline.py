"""A request's history as the sender sees it on the status page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import AuditEvent, DelistRequest, OutboxMessage

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


def request_timeline(request: DelistRequest, now: datetime) -> list[Entry]:
    """What happened to `request`, oldest first, including a removal now in force."""
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.request_id == request.id, AuditEvent.action.in_(LABELS))
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    entries = [Entry(event.at, LABELS[event.action]) for event in events]
    effective = request.removal_effective_at
    done = any(event.action == "request.done" for event in events)
    if request.status == "scheduled" and effective is not None and effective <= now and not done:
        entries.append(Entry(effective, LABELS["request.done"]))
    return entries


def request_mail(request: DelistRequest) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.request_id == request.id)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )
