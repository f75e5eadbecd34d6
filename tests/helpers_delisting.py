"""Calling the delisting services directly, in an app context, and reading what they left."""

from __future__ import annotations

import secrets
from datetime import datetime
from ipaddress import ip_address, ip_network

import sqlalchemy as sa

from app.core.actor import Actor
from app.delisting import submission
from app.delisting.tokens import read_confirmation
from app.extensions import db
from app.listing import blocklist
from app.models import AuditEvent, DelistRequest, Listing, OutboxMessage, RequestStatus
from tests.helpers import T0

SENDER = Actor.sender("198.51.100.200")
OPERATOR = Actor.operator("ana@example.net", "192.0.2.200")


def list_networks(*networks: str, now: datetime = T0) -> list[Listing]:
    """List these networks at `now`, as an operator would."""
    return [
        blocklist.add_listing(ip_network(text), "spam", actor=Actor("op"), now=now).listing
        for text in networks
    ]


def submit(
    ip: str,
    email: str = "sender@example.org",
    now: datetime = T0,
    locale: str = "en",
    actor: Actor = SENDER,
) -> submission.SubmitResult:
    """Send the form for `ip`, as the portal's view does after validating it."""
    return submission.submit(email, ip_address(ip), actor=actor, locale=locale, now=now)


def trail(*actions: str) -> list[tuple]:
    """Audit events, oldest first (only `actions` if given): (action, actor, listing, request,
    detail, at)."""
    statement = sa.select(AuditEvent).order_by(AuditEvent.id)
    if actions:
        statement = statement.where(AuditEvent.action.in_(actions))
    return [
        (e.action, e.actor, e.listing_id, e.request_id, e.detail, e.at)
        for e in db.session.scalars(statement)
    ]


def mails(kind: str | None = None) -> list[OutboxMessage]:
    """The queued mail as the database holds it now, oldest first."""
    statement = (
        sa.select(OutboxMessage)
        .order_by(OutboxMessage.id)
        .execution_options(populate_existing=True)
    )
    if kind:
        statement = statement.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(statement))


def pending_request(listing: Listing, ip: str, n: int, expires_at: datetime) -> DelistRequest:
    """An unconfirmed request for `listing` from sender number `n`, added to the session."""
    row = DelistRequest(
        public_id=secrets.token_urlsafe(16),
        email=f"s{n}@example.org",
        ip=ip,
        listing_id=listing.id,
        status=RequestStatus.PENDING,
        locale="en",
        created_at=T0,
        expires_at=expires_at,
    )
    db.session.add(row)
    return row


def requests() -> list[DelistRequest]:
    return list(db.session.scalars(sa.select(DelistRequest).order_by(DelistRequest.id)))


def link_of(message: OutboxMessage) -> str:
    """The signed link a queued confirmation mail carries."""
    assert message.kind == "confirmation" and message.secret
    assert message.secret in message.body_text
    token = read_confirmation(message.secret)
    assert token.request_id == message.request_id
    return message.secret


def outbox_row(status: str, at: datetime, *, kind: str = "confirmation") -> OutboxMessage:
    """A message in the outbox as the worker leaves it, not added to the session."""
    return OutboxMessage(
        kind=kind,
        recipient="rules@example.org",
        recipient_mailbox="rules@example.org",
        subject="s",
        body_text="t",
        body_html="h",
        message_id=f"<{secrets.token_hex(8)}@example.net>",
        status=status,
        attempts=1,
        next_attempt_at=at,
        created_at=at,
        sent_at=at if status == "sent" else None,
    )
