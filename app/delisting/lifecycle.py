"""The request's state changes that several paths share: review, schedule, expire, close.

Each function changes one request and records it; none commits (the caller's view,
CLI command or worker pass owns the transaction).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app

from app.core import audit
from app.core.actor import Actor
from app.listing import blocklist
from app.models import DelistRequest, Listing, RequestStatus


def to_review(
    delist_request: DelistRequest, listing: Listing, actor: Actor, now: datetime, why: str
) -> None:
    """Ranges, and addresses past their self-service limit, go to an operator."""
    delist_request.status = RequestStatus.NEEDS_REVIEW
    audit.record(
        "request.needs_review",
        actor=actor,
        now=now,
        delist_request=delist_request,
        listing=listing,
        detail=why,
    )


def schedule(delist_request: DelistRequest, listing: Listing, actor: Actor, now: datetime) -> None:
    """The removal takes effect DELIST_DELAY_SECONDS from now (or earlier, if so scheduled)."""
    delay = timedelta(seconds=current_app.config["DELIST_DELAY_SECONDS"])
    delist_request.status = RequestStatus.SCHEDULED
    delist_request.listing_id = listing.id
    delist_request.removal_effective_at = blocklist.schedule_removal(
        listing, now + delay, delist_request=delist_request, actor=actor, now=now
    )


def close_unlisted(delist_request: DelistRequest, now: datetime) -> None:
    """Nothing left to remove: the address is not listed any more."""
    delist_request.status = RequestStatus.DONE
    delist_request.removal_effective_at = now
    delist_request.closed_at = now


def close(
    delist_request: DelistRequest,
    status: RequestStatus,
    action: str,
    actor: Actor,
    now: datetime,
    why: str | None = None,
) -> None:
    """End the request in `status`, recording `action`."""
    delist_request.status = status
    delist_request.closed_at = now
    audit.record(action, actor=actor, now=now, delist_request=delist_request, detail=why)
