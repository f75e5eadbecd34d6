"""The allowlist: add, remove and read the networks that no path may list.

Adding an entry does not end listings already in force inside it (that stays an
operator's decision, made visible by `overlapping_listings`); it stops every new one.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.core import audit
from app.core.actor import Actor
from app.core.errors import Conflict
from app.extensions import db
from app.listing.addresses import IPNetwork, containing_keys, network_key
from app.listing.blocklist import checked_reason
from app.listing.prefixes import prefix_lengths
from app.models import AllowlistEntry, Listing


def entries() -> list[AllowlistEntry]:
    """Every entry, in address order."""
    return list(
        db.session.scalars(
            sa.select(AllowlistEntry).order_by(
                AllowlistEntry.version, AllowlistEntry.net_start, AllowlistEntry.prefix_len
            )
        )
    )


def find(network: IPNetwork) -> AllowlistEntry | None:
    """The entry for exactly `network`, if there is one."""
    return db.session.scalar(
        sa.select(AllowlistEntry).where(AllowlistEntry.is_network(network_key(network)))
    )


def add(network: IPNetwork, reason: str, *, actor: Actor, now: datetime) -> AllowlistEntry:
    """Allowlist `network`; refused when exactly it is allowlisted already."""
    reason = checked_reason(reason)
    if find(network) is not None:
        raise Conflict(f"{network} is on the allowlist already")
    entry = AllowlistEntry(
        network=str(network),
        **network_key(network)._asdict(),
        reason=reason,
        added_at=now,
        added_by=actor.name,
    )
    db.session.add(entry)
    db.session.flush()
    audit.record("allowlist.added", actor=actor, now=now, detail=f"{network}: {reason}")
    return entry


def remove(entry: AllowlistEntry, *, actor: Actor, now: datetime, why: str | None = None) -> None:
    """Take `entry` off the allowlist: its network may be listed again."""
    db.session.delete(entry)
    detail = f"{entry.network}: {why}" if why else entry.network
    audit.record("allowlist.removed", actor=actor, now=now, detail=detail)


def overlapping_listings(network: IPNetwork, now: datetime, limit: int = 20) -> list[Listing]:
    """Listings in force at `now` that share an address with `network` (at most `limit`):
    the ranges that contain it and the addresses and ranges inside it."""
    key = network_key(network)
    last = network.broadcast_address.packed
    wider = [
        Listing.is_network(k)
        for k in containing_keys(network.network_address, prefix_lengths(key.version))
        if k.prefix_len < key.prefix_len
    ]
    inside = sa.and_(
        Listing.version == key.version,
        Listing.prefix_len >= key.prefix_len,
        Listing.net_start.between(key.net_start, last),
    )
    rows = db.session.scalars(
        sa.select(Listing)
        .where(sa.or_(inside, *wider), Listing.removed_at.is_(None))
        .order_by(Listing.prefix_len, Listing.net_start)
        .limit(limit)
    )
    return [listing for listing in rows if listing.in_force_at(now)]
