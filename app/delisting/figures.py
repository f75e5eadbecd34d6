"""Requests per day of submission, for the dashboard: by outcome, who decided, how long
the removal took.

Both queries read only the requests submitted in the window, through the index on
`created_at`. Requests are made by people, one at a time, through rate limits, so the
window holds thousands of them, not millions: the durations are fetched and their
medians taken here, the same way on either database.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from app.core import sql
from app.extensions import db
from app.models import DelistRequest, RequestStatus

# The request ended with an operator's decision: a review refused, or a removal cancelled.
OPERATOR_REFUSALS = frozenset({RequestStatus.DENIED, RequestStatus.CANCELLED})
# The removal went ahead (or lapsed first); the sender confirmed it, or an operator approved.
WENT_AHEAD = frozenset({RequestStatus.SCHEDULED, RequestStatus.DONE, RequestStatus.LAPSED})

SELF_SERVICE = "self-service"
OPERATOR = "operator"


@dataclass(frozen=True)
class RequestFigures:
    by_status: dict[date, dict[RequestStatus, int]]  # submitted that day, where they stand now
    decided_by: dict[date, dict[str, int]]  # SELF_SERVICE or OPERATOR
    median_to_removal: dict[date, timedelta]  # submission to removal, for those removed
    overall_median: timedelta | None  # the same over the whole window


def decided_by(status: RequestStatus, confirmed: bool) -> str | None:
    """Who decided a request: the sender (pressed Delist IP), an operator (approved,
    denied or cancelled), or nobody yet (None)."""
    if status in OPERATOR_REFUSALS:
        return OPERATOR
    if status in WENT_AHEAD:
        return SELF_SERVICE if confirmed else OPERATOR
    return None


def _window(first: date, now: datetime) -> sa.ColumnElement[bool]:
    start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    return sa.and_(DelistRequest.created_at >= start, DelistRequest.created_at <= now)


def _medians(first: date, now: datetime) -> tuple[dict[date, timedelta], timedelta | None]:
    day = sql.utc_bucket(DelistRequest.created_at, "day")
    wait = sql.seconds_between(DelistRequest.created_at, DelistRequest.removal_effective_at)
    removed = db.session.execute(
        sa.select(day, wait).where(_window(first, now), DelistRequest.removal_in_effect_at(now))
    )
    waits: dict[date, list[float]] = defaultdict(list)  # seconds
    for day_text, seconds in removed:
        waits[date.fromisoformat(day_text)].append(float(seconds))
    every = [wait for day in waits.values() for wait in day]
    overall = _median(every) if every else None
    return {day: _median(day_waits) for day, day_waits in waits.items()}, overall


def _median(seconds: list[float]) -> timedelta:
    return timedelta(seconds=statistics.median(seconds))


def daily(first: date, now: datetime) -> RequestFigures:
    """Figures for the requests submitted from the UTC day `first` until `now`."""
    day = sql.utc_bucket(DelistRequest.created_at, "day")
    confirmed = DelistRequest.confirmed_at.is_not(None)
    rows = db.session.execute(
        sa.select(day, DelistRequest.status, confirmed, sa.func.count())
        .where(_window(first, now))
        .group_by(day, DelistRequest.status, confirmed)
    )
    by_status: dict[date, dict[RequestStatus, int]] = defaultdict(lambda: defaultdict(int))
    deciders: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day_text, status, was_confirmed, count in rows:
        submitted = date.fromisoformat(day_text)
        by_status[submitted][status] += count
        decider = decided_by(status, bool(was_confirmed))
        if decider is not None:
            deciders[submitted][decider] += count
    medians, overall = _medians(first, now)
    return RequestFigures(
        {d: dict(counts) for d, counts in by_status.items()},
        {d: dict(counts) for d, counts in deciders.items()},
        medians,
        overall,
    )
