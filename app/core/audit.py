"""The audit trail: one row per change, written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from flask import g, has_app_context

from app.core import security_log
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
    """Add an audit event for `action` (e.g. "request.submitted").

    Without an explicit `client_address`, the address of the web request being
    served is used (set by the app for every request); CLI and worker have none.
    """
    if client_address is None and has_app_context():
        client_address = g.get("client_address")
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
    security_log.event(
        action,
        actor=actor,
        client=client_address,
        request=event.request_id,
        listing=event.listing_id,
    )
    return event
