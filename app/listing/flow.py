"""Listings added and removed per day, kept by database triggers (migration 0015).

The figures are the rows of `listing_flow` plus the changes PostgreSQL's triggers have
appended to `listing_flow_change` since the worker last folded them in; one query reads
both in one snapshot, so a day's figure costs a few rows however many listings it holds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from app.core import sql
from app.core.actor import OPERATOR_PREFIX, SENDER_NAME
from app.extensions import db
from app.models import EXPIRED_BY, ListingFlow, ListingFlowChange

ADDED = "added"
REMOVED = "removed"


@dataclass(frozen=True)
class DailyFlow:
    """Listings per day: added by source, removed by who (an actor's name)."""

    added: dict[date, dict[str, int]] = field(default_factory=dict)
    removed: dict[date, dict[str, int]] = field(default_factory=dict)


def daily(first: date, last: date) -> DailyFlow:
    """Listings added and removed on each UTC day from `first` to `last`, both included."""
    kept = sa.select(ListingFlow.day, ListingFlow.kind, ListingFlow.party, ListingFlow.listings)
    appended = sa.select(
        ListingFlowChange.day,
        ListingFlowChange.kind,
        ListingFlowChange.party,
        ListingFlowChange.change,
    )
    both = sa.union_all(
        kept.where(ListingFlow.day.between(first, last)),
        appended.where(ListingFlowChange.day.between(first, last)),
    ).subquery()
    rows = db.session.execute(
        sa.select(both.c.day, both.c.kind, both.c.party, sa.func.sum(both.c.listings))
        .group_by(both.c.day, both.c.kind, both.c.party)
        .having(sa.func.sum(both.c.listings) != 0)
    )
    flows: dict[str, dict[date, dict[str, int]]] = {
        ADDED: defaultdict(dict),
        REMOVED: defaultdict(dict),
    }
    for day, kind, party, listings in rows:
        flows[kind][day][party] = int(listings)
    return DailyFlow(dict(flows[ADDED]), dict(flows[REMOVED]))


def removal_kind(removed_by: str) -> str:
    """Who ended a listing, as a chart groups them: the sender (self-service), an operator,
    its expiry, or another process (the CLI, an API key)."""
    if removed_by == SENDER_NAME:
        return "self-service"
    if removed_by.startswith(OPERATOR_PREFIX):
        return "operator"
    if removed_by == EXPIRED_BY:
        return "expiry"
    return "other"


def fold_changes() -> None:
    """Add the appended changes to the days' rows and delete them, in one statement."""
    if sql.dialect_name() != "postgresql":
        return  # SQLite's triggers update the rows themselves
    db.session.execute(
        sa.text(
            "WITH folded AS (DELETE FROM listing_flow_change RETURNING day, kind, party, change)"
            " INSERT INTO listing_flow (day, kind, party, listings)"
            " SELECT day, kind, party, sum(change) FROM folded GROUP BY day, kind, party"
            " ON CONFLICT (day, kind, party)"
            " DO UPDATE SET listings = listing_flow.listings + excluded.listings"
        )
    )
