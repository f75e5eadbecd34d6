"""Every change to the list in order, for systems that keep a copy of it (the write API's feed).

Changes are read in (changed_at, id) order after a position, a page at a time (keyset
paging: as fast on the millionth row as on the first). Equal times are common (an import
stamps thousands of rows with one time), so the id breaks the tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.core.errors import Invalid
from app.extensions import db
from app.models import Listing

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Position:
    """Just after the row (changed_at, id) in the order; id 0 is before every row at that time."""

    changed_at: datetime
    id: int = 0

    @classmethod
    def after(cls, listing: Listing) -> Position:
        return cls(listing.changed_at, listing.id)

    def cursor(self) -> str:
        """The position as a short opaque text: microseconds since 1970, a dash, the id."""
        return f"{(self.changed_at - EPOCH) // MICROSECOND}-{self.id}"

    @classmethod
    def from_cursor(cls, text: str) -> Position:
        micros, _, row_id = text.partition("-")
        refused = Invalid("not a cursor this API gave out; use the `next` of an answer")
        if not (micros.isascii() and micros.isdigit() and row_id.isascii() and row_id.isdigit()):
            raise refused
        if int(row_id) >= 2**63:  # no row has such an id, and SQLite cannot take it
            raise refused
        try:
            return cls(EPOCH + int(micros) * MICROSECOND, int(row_id))
        except OverflowError:  # past the year 9999
            raise refused from None


@dataclass(frozen=True)
class ChangePage:
    listings: list[Listing]
    next: Position | None  # None: this was the last page for now


def changes(start: Position | None, limit: int) -> ChangePage:
    """Up to `limit` listings changed after `start` (from the first change when None)."""
    statement = sa.select(Listing).order_by(Listing.changed_at, Listing.id).limit(limit + 1)
    if start is not None:
        # The first condition alone can use the changed_at index; the second breaks ties.
        statement = statement.where(
            Listing.changed_at >= start.changed_at,
            sa.or_(Listing.changed_at > start.changed_at, Listing.id > start.id),
        )
    rows = list(db.session.scalars(statement))
    more = len(rows) > limit
    rows = rows[:limit]
    return ChangePage(rows, Position.after(rows[-1]) if more else None)
