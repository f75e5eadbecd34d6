"""The worker's part of the lifecycle: expire unused links, close requests whose removal came
or whose listing expired on its own.

Rows are claimed with SKIP LOCKED (PostgreSQL), so several workers handle each once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.core.actor import EXPIRY, WORKER
from app.delisting import lifecycle, notices
from app.extensions import db
from app.models import OPEN_REQUEST_STATUSES, DelistRequest, Listing, RequestStatus


def expire_stale_requests(now: datetime, limit: int = 1000) -> int:
    """Close pending requests whose link has expired; return how many."""
    stale = db.session.scalars(
        sa.select(DelistRequest)
        .where(DelistRequest.link_expired_at(now))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for delist_request in stale:
        lifecycle.close(delist_request, RequestStatus.EXPIRED, "request.expired", WORKER, now)
    return len(stale)


def finish_due_requests(now: datetime, limit: int = 1000) -> int:
    """Close requests whose removal has taken effect, and tell each sender by mail."""
    due = db.session.scalars(
        sa.select(DelistRequest)
        .where(
            DelistRequest.status == RequestStatus.SCHEDULED,
            DelistRequest.removal_in_effect_at(now),
        )
        .order_by(DelistRequest.removal_effective_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for delist_request in due:
        lifecycle.close(delist_request, RequestStatus.DONE, "request.done", WORKER, now)
        notices.mail_removed(delist_request, now)
    return len(due)


def close_lapsed_requests(now: datetime, limit: int = 1000) -> int:
    """Close open requests whose listing expired on its own: nothing is left to remove."""
    lapsed = db.session.scalars(
        sa.select(DelistRequest)
        .join(Listing, Listing.id == DelistRequest.listing_id)
        .where(
            DelistRequest.status.in_(OPEN_REQUEST_STATUSES),
            Listing.removed_at.is_not(None),
            Listing.removed_by == EXPIRY.name,
        )
        .limit(limit)
        .with_for_update(skip_locked=True, of=DelistRequest)
    ).all()
    for delist_request in lapsed:
        lifecycle.close(delist_request, RequestStatus.LAPSED, "request.lapsed", WORKER, now)
    return len(lapsed)
