"""Listing rules: add, remove, look up "listed now?", schedule removals, finalise ends.

A listing is in force until `removed_at` is set or its end (a scheduled removal or its
expiry) has passed: `Listing.in_force_at` is that rule, and lookups ask it for the current
time, so a listing stops blocking on time whether or not the worker has run.
Requests are not changed here: app.delisting owns their lifecycle.

A little over 300 lines, on purpose: every function here changes or reads the state of one
listing row, and they share its invariants (one unfinalised row per network, `changed_at`
bumped on every change); split apart, one rule's cases would sit in several files.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from app.core import audit
from app.core.actor import EXPIRY, WORKER, Actor
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
from app.listing.guard import ListingGuard
from app.listing.lifetimes import DEFAULT, Asked, LifetimePolicy, expiry
from app.listing.prefixes import prefix_lengths, remember_prefixes
from app.models import END_COLUMNS, DelistRequest, Listing, ends_by_expiry, listing_in_force

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


def probes(count: int) -> sa.CompoundSelect[Any] | sa.Select[Any]:
    """One exact index probe per prefix length (bound parameters: see `probe_parameters`).

    UNION ALL, because SQLite would use only the index's leading column for an
    OR of the probes.
    """
    each = [
        sa.select(Listing).where(
            Listing.version == sa.bindparam("version"),
            Listing.prefix_len == sa.bindparam(f"prefix_len_{i}"),
            Listing.net_start == sa.bindparam(f"net_start_{i}", type_=sa.LargeBinary),
            Listing.removed_at.is_(None),
        )
        for i in range(count)
    ]
    return each[0] if count == 1 else sa.union_all(*each)


@functools.cache
def _probe_statement(count: int) -> sa.Executable:
    """`probes` as a reusable statement shape: built once per count, because building SQL
    expressions per call cost more than the query itself."""
    return sa.select(Listing).from_statement(probes(count))


def probe_parameters(address: IPAddress) -> tuple[int, dict[str, object]] | None:
    """How many probes `address` needs and their parameters (see `probes`); None when
    nothing of its IP version is listed (no query needed)."""
    prefix_lens = prefix_lengths(address.version)
    if not prefix_lens:
        return None
    params: dict[str, object] = {"version": address.version}
    for i, key in enumerate(containing_keys(address, list(prefix_lens))):
        params[f"prefix_len_{i}"] = key.prefix_len
        params[f"net_start_{i}"] = key.net_start
    return len(prefix_lens), params


def most_specific_in_force(candidates: Iterable[Listing], now: datetime) -> Listing | None:
    """Of the probes' candidates, the most specific listing in force at `now`.

    At most one unfinalised row exists per network, so the few candidates are checked
    against `now` here: a time condition in SQL can lure the planner onto the
    removal-time index and a scan of every active row.
    """
    listed = [listing for listing in candidates if listing.in_force_at(now)]
    return max(listed, key=lambda listing: listing.prefix_len, default=None)


def find_listing(address: IPAddress, now: datetime) -> Listing | None:
    """The most specific listing that blocks `address` at `now`, if any."""
    probe = probe_parameters(address)
    if probe is None:
        return None
    count, params = probe
    candidates = db.session.scalars(_probe_statement(count), params).all()
    return most_specific_in_force(candidates, now)


def is_listed_now(address: IPAddress, now: datetime) -> bool:
    return find_listing(address, now) is not None


def unfinalised_listings(keys: Iterable[NetworkKey]) -> dict[NetworkKey, Listing]:
    """The unfinalised listing (in force or at its end) of each of these networks that has one."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = db.session.scalars(
        sa.select(Listing).where(
            sa.tuple_(Listing.version, Listing.prefix_len, Listing.net_start).in_(
                [(key.version, key.prefix_len, key.net_start) for key in wanted]
            ),
            Listing.removed_at.is_(None),
        )
    )
    return {NetworkKey(row.version, row.prefix_len, row.net_start): row for row in rows}


def _unfinalised(network: IPNetwork) -> Listing | None:
    return db.session.scalar(
        sa.select(Listing).where(
            Listing.is_network(network_key(network)), Listing.removed_at.is_(None)
        )
    )


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
    lifetime: Asked = DEFAULT,
    guard: ListingGuard | None = None,
) -> AddResult:
    """List `network`, or return the listing that already blocks exactly it.

    The new listing expires as app.listing.lifetimes decides (a repeat offender's lasts
    longer). Raises ListingRefused for what may never be listed (app.listing.guard; a
    caller listing many networks passes the guard it read once).
    """
    reason = checked_reason(reason)
    key = network_key(network)
    (guard or ListingGuard.current()).check(key, str(network))
    current = _unfinalised(network)
    if current is not None and current.in_force_at(now):
        return AddResult(current, created=False)
    if current is not None:  # its end has come but is not finalised yet
        _finalise(current, now)
    policy = LifetimePolicy.current()
    seconds = policy.seconds(lifetime, previous_lifetimes([key], now, policy.memory).get(key))
    listing = Listing(
        network=str(network),
        **key._asdict(),
        reason=reason,
        notes=notes,
        source=source,
        listed_at=now,
        listed_by=actor.name,
        changed_at=now,
        expires_at=expiry(seconds, now),
        lifetime_seconds=seconds,
        first_seen_at=now,
        last_seen_at=now,
    )
    db.session.add(listing)
    remember_prefixes({(network.version, network.prefixlen)})
    db.session.flush()
    audit.record("listing.added", actor=actor, now=now, listing=listing, detail=reason)
    return AddResult(listing, created=True)


def previous_lifetimes(
    keys: Iterable[NetworkKey] | None, now: datetime, memory: timedelta
) -> dict[NetworkKey, int]:
    """Network key -> the lifetime of its latest listing that ended within `memory` of `now`
    (permanent ones left out). `keys=None` reads them all, for a bulk import."""
    statement = (
        sa.select(Listing.version, Listing.prefix_len, Listing.net_start, Listing.lifetime_seconds)
        .where(
            Listing.removed_at >= now - memory,
            Listing.lifetime_seconds.is_not(None),
        )
        .order_by(Listing.removed_at)  # the latest end of each network is kept
    )
    if keys is not None:
        statement = statement.where(sa.or_(*(Listing.is_network(key) for key in keys)))
    return {
        NetworkKey(row.version, row.prefix_len, row.net_start): row.lifetime_seconds
        for row in db.session.execute(statement)
    }


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


class Finalised(NamedTuple):
    removals: int  # ended by a scheduled removal (a request's, or an operator's review)
    expiries: int  # ended on their own


def _end(listings: sa.Select[int], now: datetime) -> Finalised:
    """Record as history the end each of these listings has reached: its scheduled removal,
    or its expiry (the rule `Listing.expires_by_itself`, in SQL). One UPDATE and one INSERT
    of audit rows, however many listings."""
    by_expiry = Listing.expires_by_itself
    ended = db.session.execute(
        sa.update(Listing)
        .where(Listing.id.in_(listings.scalar_subquery()))
        .values(
            removed_at=sa.case((by_expiry, Listing.expires_at), else_=Listing.removal_effective_at),
            removed_by=sa.case((by_expiry, EXPIRY.name), else_=Listing.removal_scheduled_by),
            changed_at=now,
        )
        # The ends come back and the rule in Python sorts them: SQLite (3.40) answers the
        # rule's SQL with NULL in a RETURNING clause, though it applies it right in SET.
        .returning(Listing.id, *END_COLUMNS)
        .execution_options(synchronize_session="fetch")
    ).all()
    expired = [row.id for row in ended if ends_by_expiry(row)]
    removed = [row.id for row in ended if not ends_by_expiry(row)]
    audit.record_for_listings("listing.expired", actor=EXPIRY, now=now, listing_ids=expired)
    audit.record_for_listings("removal.effective", actor=WORKER, now=now, listing_ids=removed)
    return Finalised(len(removed), len(expired))


def _finalise(listing: Listing, now: datetime) -> None:
    """Record the end one listing has reached (the object is brought up to date)."""
    _end(sa.select(Listing.id).where(Listing.id == listing.id), now)


def finalise_due_listings(now: datetime, limit: int | None = 1000) -> Finalised:
    """Record as history the listings whose end has come; say how many of each kind.

    A batch is one UPDATE and one INSERT (`_end`): a hundred thousand listings that expire
    at once are history within a minute. Rows are claimed with SKIP LOCKED (PostgreSQL), so
    several workers finalise each once. Their requests are closed by app.delisting.jobs,
    which tells the senders.
    """
    return _end(
        sa.select(Listing.id)
        .where(Listing.end_reached_at(now))
        .order_by(Listing.ends_at, Listing.id)  # earliest first
        .limit(limit)
        .with_for_update(skip_locked=True),
        now,
    )


def active_listings(
    now: datetime, *extra: sa.SQLColumnExpression[Any], batch: int = 10_000
) -> Iterator[sa.Row]:
    """Every listing in force at `now`: network, version and any `extra` columns, streamed.

    Plain rows, not ORM objects, in the order of the active-network index, so
    exporting a million listings needs neither a sort nor much memory. Ask only
    for the columns you print: reading a datetime costs more than the row.
    """
    statement = (
        sa.select(Listing.network, Listing.version, *END_COLUMNS, *extra)
        .where(Listing.removed_at.is_(None))
        .order_by(Listing.version, Listing.prefix_len, Listing.net_start)
        .execution_options(yield_per=batch)
    )
    # On the connection, not the session: plain rows skip the ORM's loading machinery.
    for row in db.session.connection().execute(statement):
        if listing_in_force(row, now):
            yield row
