"""Listing rules: add, remove, look up "listed now?", schedule and finalise removals.

A listing is in force until `removed_at` is set or its end (`removal_effective_at`)
has passed: `Listing.in_force_at` is that rule, and lookups ask it for the current
time, so a scheduled removal takes effect on time whether or not the worker has run.
Requests are not changed here: app.delisting owns their lifecycle.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.core import audit, sql
from app.core.actor import WORKER, Actor
from app.core.errors import Conflict, Invalid, NotAllowed
from app.extensions import db
from app.listing.addresses import (
    IPAddress,
    IPNetwork,
    NetworkKey,
    containing_keys,
    network_key,
    parse_network,
)
from app.models import DelistRequest, Listing, ListingPrefix, listing_in_force

# Readers of `Listing.changed_at` (the policy service's index, the importer's stamps) re-read
# changes this far back, for transactions that committed late and clocks that differ a
# little between hosts; applying a change twice is harmless.
CHANGES_OVERLAP = timedelta(seconds=60)

# The longest reason a listing can carry: the column's own width.
MAX_REASON_LENGTH = Listing.REASON_LENGTH


def checked_reason(reason: str) -> str:
    """A listing's reason, trimmed; refused when empty or longer than the column holds."""
    reason = reason.strip()
    if not reason:
        raise Invalid("a reason is required")
    if len(reason) > MAX_REASON_LENGTH:
        raise Invalid(f"the reason is too long (at most {MAX_REASON_LENGTH} characters)")
    return reason


def check_listable(version: int, prefix_len: int) -> None:
    """Refuse a whole address space (0.0.0.0/0, ::/0): listing it would refuse all mail."""
    if prefix_len == 0:
        raise Invalid(f"the whole IPv{version} address space cannot be listed")


PREFIX_LENS = (
    sa.select(ListingPrefix.prefix_len)
    .where(ListingPrefix.version == sa.bindparam("version"))
    .order_by(ListingPrefix.prefix_len.desc())
)


@functools.cache
def _probe_statement(count: int) -> sa.Executable:
    """One exact index probe per prefix length, as a reusable statement shape.

    UNION ALL, because SQLite would use only the index's leading column for an
    OR of the probes. Built once per count: building SQL expressions per call
    cost more than the query itself.
    """
    probes = [
        sa.select(Listing).where(
            Listing.version == sa.bindparam("version"),
            Listing.prefix_len == sa.bindparam(f"prefix_len_{i}"),
            Listing.net_start == sa.bindparam(f"net_start_{i}", type_=sa.LargeBinary),
            Listing.removed_at.is_(None),
        )
        for i in range(count)
    ]
    statement = probes[0] if count == 1 else sa.union_all(*probes)
    return sa.select(Listing).from_statement(statement)


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


def find_listing(address: IPAddress, now: datetime) -> Listing | None:
    """The most specific listing that blocks `address` at `now`, if any."""
    prefix_lens = prefix_lengths(address.version)
    if not prefix_lens:
        return None
    params: dict[str, object] = {"version": address.version}
    for i, key in enumerate(containing_keys(address, list(prefix_lens))):
        params[f"prefix_len_{i}"] = key.prefix_len
        params[f"net_start_{i}"] = key.net_start
    candidates = db.session.scalars(_probe_statement(len(prefix_lens)), params).all()
    # At most one unfinalised row exists per network, so the few candidates are
    # checked against `now` here: a time condition in SQL can lure the planner
    # onto the removal-time index and a scan of every active row.
    listed = [listing for listing in candidates if listing.in_force_at(now)]
    return max(listed, key=lambda listing: listing.prefix_len, default=None)


def is_listed_now(address: IPAddress, now: datetime) -> bool:
    return find_listing(address, now) is not None


def same_network(key: NetworkKey) -> sa.ColumnElement[bool]:
    """SQL condition: the row lists exactly the network with this key (any state)."""
    return sa.and_(
        Listing.version == key.version,
        Listing.prefix_len == key.prefix_len,
        Listing.net_start == key.net_start,
    )


def _unfinalised(network: IPNetwork) -> Listing | None:
    return db.session.scalar(
        sa.select(Listing).where(same_network(network_key(network)), Listing.removed_at.is_(None))
    )


def remember_prefixes(prefixes: set[tuple[int, int]]) -> None:
    """Record (version, prefix length) pairs as in use, for lookups to probe."""
    db.session.execute(
        sql.insert(ListingPrefix)
        .values([{"version": v, "prefix_len": p} for v, p in sorted(prefixes)])
        .on_conflict_do_nothing()
    )
    forget_prefix_lengths()


@dataclass(frozen=True)
class AddResult:
    listing: Listing
    created: bool


def add_listing(
    network: IPNetwork,
    reason: str,
    *,
    actor: Actor,
    now: datetime,
    source: str = "manual",
    notes: str | None = None,
) -> AddResult:
    """List `network`, or return the listing that already blocks exactly it."""
    check_listable(network.version, network.prefixlen)
    reason = checked_reason(reason)
    current = _unfinalised(network)
    if current is not None and current.in_force_at(now):
        return AddResult(current, created=False)
    if current is not None:  # its removal is due but not finalised yet
        _finalise(current, now)
    listing = Listing(
        network=str(network),
        **network_key(network)._asdict(),
        reason=reason,
        notes=notes,
        source=source,
        listed_at=now,
        listed_by=actor.name,
        changed_at=now,
    )
    db.session.add(listing)
    remember_prefixes({(network.version, network.prefixlen)})
    db.session.flush()
    audit.record("listing.added", actor=actor, now=now, listing=listing, detail=reason)
    return AddResult(listing, created=True)


def list_again(listing: Listing, why: str, *, actor: Actor, now: datetime) -> AddResult:
    """List the network of an earlier `listing` again, as a new listing (or the active one)."""
    return add_listing(
        parse_network(listing.network),
        why,
        actor=actor,
        now=now,
        notes=f"listed again after listing #{listing.id}",
    )


def remove_listing(network: IPNetwork, *, actor: Actor, now: datetime) -> Listing | None:
    """End the listing of exactly `network` now; None if it is not listed."""
    listing = _unfinalised(network)
    if listing is None or not listing.in_force_at(now):
        return None
    remove(listing, actor=actor, now=now)
    return listing


def remove(listing: Listing, *, actor: Actor, now: datetime, why: str | None = None) -> None:
    """End `listing` now (an operator's decision); NotAllowed when it is not in force."""
    if not listing.in_force_at(now):
        raise NotAllowed("This listing is not in force; nothing was changed.")
    listing.removed_at = now
    listing.removed_by = actor.name
    listing.changed_at = now
    audit.record("listing.removed", actor=actor, now=now, listing=listing, detail=why)


def keep(listing: Listing, *, actor: Actor, now: datetime, why: str) -> int | None:
    """Cancel the listing's scheduled removal; return the id of the request that asked for it.

    The request itself is closed by app.delisting.review.cancel_removal, which calls this.
    NotAllowed when no removal is waiting.
    """
    if not listing.in_force_at(now) or listing.removal_effective_at is None:
        raise NotAllowed("No removal is waiting; nothing was changed.")
    request_id = listing.removal_request_id
    listing.removal_effective_at = None
    listing.removal_request_id = None
    listing.removal_scheduled_by = None
    listing.changed_at = now
    audit.record("removal.cancelled", actor=actor, now=now, listing=listing, detail=why)
    return request_id


def schedule_removal(
    listing: Listing,
    effective_at: datetime,
    *,
    delist_request: DelistRequest,
    actor: Actor,
    now: datetime,
) -> datetime:
    """Schedule the listing's removal; an earlier scheduled time wins. Returns the time."""
    db.session.execute(
        sa.update(Listing)
        .where(
            Listing.id == listing.id,
            Listing.removed_at.is_(None),
            sa.or_(
                Listing.removal_effective_at.is_(None),
                Listing.removal_effective_at > effective_at,
            ),
        )
        .values(
            removal_effective_at=effective_at,
            removal_request_id=delist_request.id,
            removal_scheduled_by=actor.name,
            changed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(listing)
    effective = listing.removal_effective_at
    if effective is None:  # finalised or removed by someone else meanwhile
        raise Conflict(f"{listing.network} is not listed any more")
    audit.record(
        "removal.scheduled",
        actor=actor,
        now=now,
        listing=listing,
        delist_request=delist_request,
        detail=f"effective {effective.isoformat()}",
    )
    return effective


def _finalise(listing: Listing, now: datetime) -> None:
    listing.removed_at = listing.removal_effective_at
    listing.removed_by = listing.removal_scheduled_by
    listing.changed_at = now
    audit.record("removal.effective", actor=WORKER, now=now, listing=listing)


def finalise_due_removals(now: datetime, limit: int | None = 1000) -> int:
    """Mark listings whose end has come as removed; return how many.

    Rows are claimed with SKIP LOCKED (PostgreSQL), so several workers finalise each
    once. Their requests are closed by app.delisting.jobs, which tells the senders.
    """
    due = db.session.scalars(
        sa.select(Listing)
        .where(Listing.end_reached_at(now))
        .order_by(Listing.removal_effective_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for listing in due:
        _finalise(listing, now)
    return len(due)


def active_listings(
    now: datetime, *extra: sa.SQLColumnExpression[Any], batch: int = 10_000
) -> Iterator[sa.Row]:
    """Every listing in force at `now`: network, version and any `extra` columns, streamed.

    Plain rows, not ORM objects, in the order of the active-network index, so
    exporting a million listings needs neither a sort nor much memory. Ask only
    for the columns you print: reading a datetime costs more than the row.
    """
    statement = (
        sa.select(
            Listing.network,
            Listing.version,
            Listing.removed_at,
            Listing.removal_effective_at,
            *extra,
        )
        .where(Listing.removed_at.is_(None))
        .order_by(Listing.version, Listing.prefix_len, Listing.net_start)
        .execution_options(yield_per=batch)
    )
    # On the connection, not the session: plain rows skip the ORM's loading machinery.
    for row in db.session.connection().execute(statement):
        if listing_in_force(row, now):
            yield row
