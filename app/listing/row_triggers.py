"""A bulk insert on SQLite, counted once instead of by a trigger per row.

Triggers on `listing` keep the count of unfinalised listings (migration 0007) and the
listings added per day (0015). On SQLite they run once per row, which made a
million-line import about 15 % slower for the count alone. Within the import's
transaction we add the rows' figures ourselves, set those triggers aside and put them
back as they were. SQLite has one writer at a time, so nothing else is written
meanwhile, and its DDL is transactional: if the import fails, the rollback brings the
triggers back with everything else.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert

from app.listing.flow import ADDED
from app.models import ListingFlow, ListingTotals

COUNT_TRIGGER = "listing_totals_insert"  # migration 0007
FLOW_TRIGGER = "listing_flow_insert"  # migration 0015


def _count(connection: sa.Connection, rows: list[dict]) -> None:
    added = sum(1 for row in rows if row.get("removed_at") is None)
    connection.execute(
        sa.update(ListingTotals).values(unfinalised=ListingTotals.unfinalised + added)
    )


def _flow(connection: sa.Connection, rows: list[dict]) -> None:
    if any(row.get("removed_at") is not None for row in rows):
        raise ValueError("a bulk insert of listings already removed is not counted here")
    days = Counter((row["listed_at"].date(), row["source"]) for row in rows)
    for (day, source), listings in days.items():
        upsert = insert(ListingFlow).values(day=day, kind=ADDED, party=source, listings=listings)
        connection.execute(
            upsert.on_conflict_do_update(
                index_elements=[ListingFlow.day, ListingFlow.kind, ListingFlow.party],
                set_={"listings": ListingFlow.listings + upsert.excluded.listings},
            )
        )


@contextlib.contextmanager
def counted_once(connection: sa.Connection, rows: list[dict]) -> Iterator[None]:
    """Insert `rows` (listing columns) in the block, with the per-row triggers set aside."""
    set_aside = []
    for name, add in ((COUNT_TRIGGER, _count), (FLOW_TRIGGER, _flow)):
        trigger = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
        ).scalar()
        if trigger is None:
            continue
        # The figures come first: a data change opens the transaction (Python's sqlite3
        # begins one only then), so the DROP below is part of it.
        add(connection, rows)
        connection.exec_driver_sql(f"DROP TRIGGER {name}")
        set_aside.append(trigger)
    yield
    for trigger in set_aside:
        connection.exec_driver_sql(trigger)
