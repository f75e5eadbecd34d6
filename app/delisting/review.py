"""What operators decide about a request: approve, deny, a new link, keep the listing."""

from __future__ import annotations

from datetime import datetime

from app.core import audit
from app.core.actor import Actor
from app.core.errors import NotAllowed
from app.delisting import lifecycle, notices
from app.extensions import db
from app.listing import blocklist
from app.models import DelistRequest, Listing, RequestStatus


def _check_in_review(delist_request: DelistRequest) -> None:
    if delist_request.status != RequestStatus.NEEDS_REVIEW:
        raise NotAllowed(f"the request is {delist_request.status}, not waiting for review")


def approve(delist_request: DelistRequest, *, actor: Actor, why: str, now: datetime) -> None:
    """An operator lets a reviewed request through: the removal is scheduled as usual."""
    _check_in_review(delist_request)
    listing = blocklist.find_listing(delist_request.address, now)
    audit.record(
        "request.approved", actor=actor, now=now, delist_request=delist_request, detail=why
    )
    if listing is None:
        lifecycle.close_unlisted(delist_request, now)
    else:
        lifecycle.schedule(delist_request, listing, actor, now)
    notices.mail_decision(delist_request, True, why, now)


def deny(delist_request: DelistRequest, *, actor: Actor, why: str, now: datetime) -> None:
    """An operator refuses a reviewed request; the sender is told why."""
    _check_in_review(delist_request)
    lifecycle.close(delist_request, RequestStatus.DENIED, "request.denied", actor, now, why)
    notices.mail_decision(delist_request, False, why, now)


def send_new_link(delist_request: DelistRequest, *, actor: Actor, now: datetime) -> None:
    """A fresh confirmation link for a pending request (the older one stops working)."""
    listing = blocklist.find_listing(delist_request.address, now)
    if delist_request.status != RequestStatus.PENDING or listing is None:
        raise NotAllowed("only a pending request for a listed address can get a new link")
    notices.mail_new_link(delist_request, listing, now)
    audit.record("request.link_reissued", actor=actor, now=now, delist_request=delist_request)


def cancel_removal(listing: Listing, *, actor: Actor, now: datetime, why: str) -> None:
    """Keep `listing` after all; the request that scheduled its removal is cancelled."""
    request_id = blocklist.keep(listing, actor=actor, now=now, why=why)
    delist_request = db.session.get(DelistRequest, request_id) if request_id else None
    if delist_request is not None and delist_request.status == RequestStatus.SCHEDULED:
        lifecycle.close(
            delist_request, RequestStatus.CANCELLED, "request.cancelled", actor, now, why
        )
