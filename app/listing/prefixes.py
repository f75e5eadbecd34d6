"""The prefix lengths in use, per IP version: what a lookup has to probe.

A lookup probes one exact network per length in use (a handful), so it needs the lengths
first; they are kept here, read at most once per `PREFIX_LENS_TTL` per process.
"""

from __future__ import annotations

import time
import weakref

import sqlalchemy as sa

from app.core import sql
from app.extensions import db
from app.models import ListingPrefix

PREFIX_LENS = (
    sa.select(ListingPrefix.prefix_len)
    .where(ListingPrefix.version == sa.bindparam("version"))
    .order_by(ListingPrefix.prefix_len.desc())
)


# The prefix lengths in use, per database and IP version: (read at, lengths). They
# only ever grow, and this process forgets them whenever it adds one; another
# process's new length is seen within PREFIX_LENS_TTL. That saves every lookup a
# round trip, which on PostgreSQL was half its time.
PREFIX_LENS_TTL = 1.0
_prefix_lens: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def prefix_lengths(version: int) -> tuple[int, ...]:
    """The prefix lengths listed for IP `version`, longest first."""
    known = _prefix_lens.setdefault(db.engine, {})
    read_at, lengths = known.get(version, (None, ()))
    if read_at is None or time.monotonic() - read_at > PREFIX_LENS_TTL:
        lengths = tuple(db.session.scalars(PREFIX_LENS, {"version": version}).all())
        known[version] = (time.monotonic(), lengths)
    return lengths


def forget_prefix_lengths() -> None:
    """After adding prefix lengths: the next lookup reads them again."""
    _prefix_lens.pop(db.engine, None)


def remember_prefixes(prefixes: set[tuple[int, int]]) -> None:
    """Record (version, prefix length) pairs as in use, for lookups to probe."""
    db.session.execute(
        sql.insert(ListingPrefix)
        .values([{"version": v, "prefix_len": p} for v, p in sorted(prefixes)])
        .on_conflict_do_nothing()
    )
    forget_prefix_lengths()
