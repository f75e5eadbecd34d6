"""The confirmation link: opening it shows the request, pressing Delist IP consumes it once."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from app.core import audit, sql
from app.core.actor import Actor
from app.delisting import lifecycle
from app.delisting.standing import request_and_removals_left
from app.delisting.tokens import ConfirmToken, TokenError, read_confirmation
from app.extensions import db
from app.listing import blocklist
from app.models import DelistRequest, Listing, RequestStatus


def _matching_request(token: ConfirmToken) -> DelistRequest:
    return _matching(db.session.get(DelistRequest, token.request_id), token)


def _matching(delist_request: DelistRequest | None, token: ConfirmToken) -> DelistRequest:
    if delist_request is None or not delist_request.nonce_hash:
        raise TokenError.invalid()
    if not hmac.compare_digest(delist_request.nonce_hash, token.nonce_hash):
        raise TokenError.invalid()
    return delist_request


def _check_usable(delist_request: DelistRequest, now: datetime) -> None:
    if delist_request.confirmed_at is not None:
        raise TokenError.used(delist_request)
    if delist_request.status == RequestStatus.EXPIRED or delist_request.link_expired_at(now):
        raise TokenError.expired()
    if delist_request.status != RequestStatus.PENDING:
        raise TokenError.invalid()


def open_confirmation(token_text: str, now: datetime) -> tuple[DelistRequest, Listing | None]:
    """The request behind a link and the listing it would remove; changes nothing."""
    page = open_page(token_text, now)
    return page.delist_request, page.listing


class DelistPage(NamedTuple):
    """What the Delist IP page shows."""

    delist_request: DelistRequest
    listing: Listing | None  # the listing pressing the button would remove
    removals_left: int  # the IP's self-service removals left in the window


def open_page(token_text: str, now: datetime) -> DelistPage:
    """`open_confirmation`, with the IP's removals left, in two queries: the request and
    its count, then the listing probe."""
    token = read_confirmation(token_text)
    found = request_and_removals_left(token.request_id, now)
    delist_request = _matching(found[0] if found else None, token)
    _check_usable(delist_request, now)
    listing = blocklist.find_listing(delist_request.address, now)
    return DelistPage(delist_request, listing, found[1] if found else 0)


def confirm(token_text: str, *, actor: Actor, now: datetime) -> DelistRequest:
    """Consume the link once and schedule the removal; raise TokenError otherwise."""
    token = read_confirmation(token_text)
    delist_request = _matching_request(token)
    result = db.session.execute(
        sa.update(DelistRequest)
        .where(
            DelistRequest.id == delist_request.id,
            DelistRequest.status == RequestStatus.PENDING,
            DelistRequest.nonce_hash == token.nonce_hash,
            ~DelistRequest.link_expired_at(now),
            DelistRequest.confirmed_at.is_(None),
        )
        .values(status=RequestStatus.SCHEDULED, confirmed_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = sql.rowcount(result)
    db.session.refresh(delist_request)
    if not claimed:
        _check_usable(delist_request, now)
        raise TokenError.invalid()
    audit.record("request.confirmed", actor=actor, now=now, delist_request=delist_request)
    listing = blocklist.find_listing(delist_request.address, now)
    if listing is None:
        lifecycle.close_unlisted(delist_request, now)
        audit.record(
            "request.done", actor=actor, now=now, delist_request=delist_request, detail="not listed"
        )
    elif listing.is_range:
        why = f"listed through the range {listing.network}"
        lifecycle.to_review(delist_request, listing, actor, now, why)
    else:
        lifecycle.schedule(delist_request, listing, actor, now)
    return delist_request
