"""Mail delivered and failed per hour, for the dashboard.

A message done with (sent, or failed for good) keeps in `next_attempt_at` when that
happened, so the outbox's due index on (status, next_attempt_at) finds a day's worth
without reading the rest of the history.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.core import sql
from app.extensions import db
from app.models import OutboxMessage

DONE_STATUSES = ("sent", "failed")


def hourly(since: datetime, now: datetime) -> dict[datetime, dict[str, int]]:
    """Start of each UTC hour -> messages sent and failed in it, between `since` and `now`."""
    hour = sql.utc_bucket(OutboxMessage.next_attempt_at, "hour")
    rows = db.session.execute(
        sa.select(hour, OutboxMessage.status, sa.func.count())
        .where(
            OutboxMessage.status.in_(DONE_STATUSES),
            OutboxMessage.next_attempt_at >= since,
            OutboxMessage.next_attempt_at <= now,
        )
        .group_by(hour, OutboxMessage.status)
    )
    counts: dict[datetime, dict[str, int]] = defaultdict(dict)
    for hour_text, status, count in rows:
        start = datetime.strptime(hour_text, "%Y-%m-%d %H").replace(tzinfo=now.tzinfo)
        counts[start][status] = count
    return dict(counts)


def hours_back(now: datetime, hours: int) -> list[datetime]:
    """The starts of the last `hours` UTC hours, oldest first, the current one last."""
    current = now.replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=n) for n in reversed(range(hours))]
