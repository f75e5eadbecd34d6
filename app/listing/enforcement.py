"""Enforcement points: every policy server and export reports when its copy of the list was
last brought up to date, so the portal can say whether a removal has reached all of them.

A point *applies* a removal when its copy is from the removal's time or later. Points that
have not reported for `stale_seconds` are stale: shown to operators, left out of what the
sender is told (a server switched off refuses nobody).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.core import sql
from app.extensions import db
from app.models import EnforcementKind, EnforcementPoint


def report(
    name: str,
    kind: EnforcementKind,
    refreshed_at: datetime,
    listings: int,
    *,
    up_since: datetime,
    refresh_seconds: int | None = None,
) -> None:
    """Record a heartbeat in the caller's transaction: one row per name, replaced."""
    values = {
        "kind": kind,
        "refreshed_at": refreshed_at,
        "up_since": up_since,
        "refresh_seconds": refresh_seconds,
        "listings": listings,
    }
    statement = sql.insert(EnforcementPoint).values(name=name, **values)
    db.session.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))


def applies(point: EnforcementPoint, effective_at: datetime) -> bool:
    """Whether the point's copy of the list is current as of the removal's time."""
    return point.refreshed_at >= effective_at


def applied_since(point: EnforcementPoint, effective_at: datetime) -> datetime:
    """The latest time the point can have begun to apply a removal it applies.

    A point that has refreshed without a break since before the removal did so at its first
    refresh after it, at most one interval later; otherwise its first refresh of this run
    (or the export) is the first we know of."""
    if point.refresh_seconds is None:  # an export: each one is written afresh
        return point.refreshed_at
    if point.up_since >= effective_at:
        return point.up_since
    return min(point.refreshed_at, effective_at + timedelta(seconds=point.refresh_seconds))


@dataclass(frozen=True)
class PointState:
    """A point as operators see it: its age and whether it is stale."""

    point: EnforcementPoint
    age_seconds: int
    stale: bool


def states(now: datetime, stale_seconds: int) -> list[PointState]:
    """Every point that ever reported, by name, with the age of its copy of the list."""
    points = db.session.scalars(sa.select(EnforcementPoint).order_by(EnforcementPoint.name))
    return [
        PointState(point, age, age > stale_seconds)
        for point in points
        for age in [max(0, int((now - point.refreshed_at).total_seconds()))]
    ]


@dataclass(frozen=True)
class Coverage:
    """Where a removal stands among the points that reported recently."""

    applied: list[EnforcementPoint]
    behind: list[EnforcementPoint]
    since: datetime | None  # when all apply it; None while some do not

    @property
    def total(self) -> int:
        return len(self.applied) + len(self.behind)


def removal_coverage(effective_at: datetime, now: datetime, stale_seconds: int) -> Coverage | None:
    """Which live points apply a removal effective at `effective_at`; None when none is live."""
    live = [state.point for state in states(now, stale_seconds) if not state.stale]
    if not live:
        return None
    applied = [point for point in live if applies(point, effective_at)]
    behind = [point for point in live if not applies(point, effective_at)]
    since = max(applied_since(p, effective_at) for p in applied) if not behind else None
    return Coverage(applied, behind, since)
