"""The worker's part of the lifecycle: expire unused links, close requests whose removal came
or whose listing expired on its own.

Rows are claimed with SKIP LOCKED (PostgreSQL), so several workers handle each once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from app.core.actor import EXPIRY, WORKER
from app.delisting import lifecycle, notices
from app.extensions import db
from app.models import OPEN_REQUEST_STATUSES, DelistRequest, Listing, RequestStatus


def _claim(statement: sa.Select[DelistRequest], limit: int) -> Sequence[DelistRequest]:
    """At most `limit` requests of `statement`, locked; those another worker holds are skipped
    (only the request rows are locked, not the rows of a joined table)."""
    return db.session.scalars(
        statement.limit(limit).with_for_update(skip_locked=True, of=DelistRequest)
    ).all()


def expire_stale_requests(now: datetime, limit: int = 1000) -> int:
    """Close pending requests whose link has expired; return how many."""
    stale = _claim(sa.select(DelistRequest).where(DelistRequest.link_expired_at(now)), limit)
    for delist_request in stale:
        lifecycle.close(delist_request, RequestStatus.EXPIRED, "request.expired", WORKER, now)
    return len(stale)


def finish_due_requests(now: datetime, limit: int = 1000) -> int:
    """Close requests whose removal has taken effect, and tell each sender by mail."""
    due = _claim(
        sa.select(DelistRequest)
        .where(
            DelistRequest.status == RequestStatus.SCHEDULED,
            DelistRequest.removal_in_effect_at(now),
        )
        .order_by(DelistRequest.removal_effective_at),
        limit,
    )
    for delist_request in due:
        lifecycle.close(delist_request, RequestStatus.DONE, "request.done", WORKER, now)
        notices.mail_removed(delist_request, now)
    return len(due)


def close_lapsed_requests(now: datetime, limit: int = 1000) -> int:
    """Close open requests whose listing expired on its own: nothing is left to remove.

    Only the worker records an expiry (`removed_by` EXPIRY, with `removed_at` set), so a
    request lapses once its listing's expiry is finalised, never with an operator's removal.
    """
    lapsed = _claim(
        sa.select(DelistRequest)
        .join(Listing, Listing.id == DelistRequest.listing_id)
        .where(
            DelistRequest.status.in_(OPEN_REQUEST_STATUSES),
            Listing.removed_by == EXPIRY.name,
        ),
        limit,
    )
    for delist_request in lapsed:
        lifecycle.close(delist_request, RequestStatus.LAPSED, "request.lapsed", WORKER, now)
    return len(lapsed)
