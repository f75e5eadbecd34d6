"""The audit trail: one row per change, written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from app.core import security_log
from app.core.actor import Actor
from app.extensions import db
from app.models import AuditEvent, DelistRequest, Listing


def record(
    action: str,
    *,
    actor: Actor,
    now: datetime,
    listing: Listing | None = None,
    delist_request: DelistRequest | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Add an audit event for `action` (e.g. "request.submitted") by `actor`, from its address."""
    event = AuditEvent(
        at=now,
        actor=actor.name,
        action=action,
        listing_id=listing.id if listing else None,
        request_id=delist_request.id if delist_request else None,
        client_address=actor.client_address,
        detail=detail,
    )
    db.session.add(event)
    security_log.event(
        action,
        actor=actor.name,
        client=actor.client_address,
        request=event.request_id,
        listing=event.listing_id,
    )
    return event
