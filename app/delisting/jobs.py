"""The worker's part of the lifecycle: expire unused links, close requests whose removal came.

Rows are claimed with SKIP LOCKED (PostgreSQL), so several workers handle each once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.core.actor import WORKER
from app.delisting import lifecycle, notices
from app.extensions import db
from app.models import DelistRequest, RequestStatus


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
