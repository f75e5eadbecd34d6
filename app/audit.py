"""The audit trail: one row per change, written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.models import AuditEvent, DelistRequest, Listing


def record(
    action: str,
    *,
    actor: str,
    now: datetime,
    listing: Listing | None = None,
    request: DelistRequest | None = None,
    client_address: str | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Add an audit event for `action` (e.g. "request.submitted")."""
    event = AuditEvent(
        at=now,
        actor=actor,
        action=action,
        listing_id=listing.id if listing else None,
        request_id=request.id if request else None,
        client_address=client_address,
        detail=detail,
    )
    db.session.add(event)
    return event
