"""An in-memory copy of the active list for answering mail servers fast.

Built from the database once, then kept current from `listing.changed_at`.
Each entry remembers when it ends by itself (`listing_ends_at`: a scheduled removal or its
expiry), so a removal that becomes effective or a listing that expires between two
refreshes is honoured at once, without a rebuild: the index asks the
same rule as every other lookup (`app.models.listing_in_force`).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.listing.blocklist import CHANGES_OVERLAP
from app.models import END_COLUMNS, Listing, before_end, listing_ends_at

# Re-read changes this far back (see app.listing.blocklist.CHANGES_OVERLAP).
REFRESH_OVERLAP = CHANGES_OVERLAP

Key = tuple[int, int, int]  # (version, prefix length, first address as an int)


class ListIndex:
    """Addresses and ranges, IPv4 and IPv6; `lookup` costs one dict probe per prefix length."""

    def __init__(self) -> None:
        self._tables: dict[int, dict[int, dict[int, int]]] = {4: {}, 6: {}}
        self._prefixes: dict[int, tuple[int, ...]] = {4: (), 6: ()}
        self._ends_at: dict[Key, float] = {}
        self._lock = threading.Lock()  # writers only; readers rely on atomic dict operations

    def __len__(self) -> int:
        return sum(len(t) for tables in self._tables.values() for t in tables.values())

    def put(self, listing_id: int, key: Key, ends_at: float | None) -> bool:
        """Hold `listing_id` for `key` until `ends_at`; whether that changed anything."""
        version, prefix_len, start = key
        with self._lock:
            table = self._tables[version].get(prefix_len)
            if table is None:
                table = self._tables[version][prefix_len] = {}
                self._prefixes[version] = tuple(sorted(self._tables[version], reverse=True))
            changed = table.get(start) != listing_id or self._ends_at.get(key) != ends_at
            table[start] = listing_id
            if ends_at is None:
                self._ends_at.pop(key, None)
            else:
                self._ends_at[key] = ends_at
            return changed

    def discard(self, listing_id: int, key: Key) -> bool:
        """Remove the entry for `key` if it still belongs to `listing_id`; whether it did."""
        version, prefix_len, start = key
        with self._lock:
            table = self._tables[version].get(prefix_len)
            if table is not None and table.get(start) == listing_id:
                del table[start]
                self._ends_at.pop(key, None)
                return True
            return False

    def lookup(
        self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, now: float
    ) -> int | None:
        """The id of the most specific listing in force for `address` at `now` (epoch seconds)."""
        version = address.version
        bits = 32 if version == 4 else 128
        value = int(address)
        tables = self._tables[version]
        for prefix_len in self._prefixes[version]:
            shift = bits - prefix_len
            start = value >> shift << shift
            listing_id = tables[prefix_len].get(start)
            if listing_id is None:
                continue
            if before_end(self._ends_at.get((version, prefix_len, start)), now):
                return listing_id
        return None


def _key(row: sa.Row[Any]) -> Key:
    return (row.version, row.prefix_len, int.from_bytes(row.net_start, "big"))


def _apply(index: ListIndex, rows: Iterable) -> int:
    """Put or drop each row; return how many changed the index (a row read again is none)."""
    changed = 0
    for row in rows:
        if row.removed_at is None:
            ends_at = listing_ends_at(row)
            changed += index.put(row.id, _key(row), ends_at.timestamp() if ends_at else None)
        else:
            changed += index.discard(row.id, _key(row))
    return changed


COLUMNS = (Listing.id, Listing.version, Listing.prefix_len, Listing.net_start, *END_COLUMNS)


@dataclass
class Snapshot:
    """An index and the database time it is current as of (minus the overlap)."""

    index: ListIndex
    checkpoint: datetime


def build(now: datetime) -> Snapshot:
    """Load every unfinalised listing. Call in an app context."""
    index = ListIndex()
    rows = db.session.execute(
        sa.select(*COLUMNS).where(Listing.removed_at.is_(None)).execution_options(yield_per=20_000)
    )
    _apply(index, rows)
    db.session.rollback()
    return Snapshot(index, now - REFRESH_OVERLAP)


def refresh(snapshot: Snapshot, now: datetime) -> int:
    """Apply listings changed since the last checkpoint; return how many changed the index.

    Each refresh reads REFRESH_OVERLAP back, so a change is read again for a while: only
    the first reading counts."""
    rows = db.session.execute(
        sa.select(*COLUMNS)
        .where(Listing.changed_at >= snapshot.checkpoint)
        .order_by(Listing.changed_at, Listing.id)
    ).all()
    db.session.rollback()
    count = _apply(snapshot.index, rows)
    snapshot.checkpoint = now - REFRESH_OVERLAP
    return count
