"""Finding listings for operators: by address, by CIDR, by reason; keyset pages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.core.errors import Invalid
from app.core.paging import Page, newest_first
from app.extensions import db
from app.listing import hits
from app.listing.addresses import (
    AddressError,
    IPAddress,
    IPNetwork,
    NetworkKey,
    containing_keys,
    parse_address,
    parse_network,
)
from app.listing.prefixes import prefix_lengths
from app.models import AuditEvent, DelistRequest, Listing, ListingEvidence

STATES = ("active", "scheduled", "removed", "all")


class SearchError(Invalid):
    """A search the operator typed that cannot be understood; str() says why."""


def _key_probe(key: NetworkKey) -> sa.Select:
    return sa.select(Listing.id).where(Listing.is_network(key))


def _ids_in(selects: list[sa.Select]) -> sa.ColumnElement[bool]:
    if not selects:
        return sa.false()
    return Listing.id.in_(selects[0] if len(selects) == 1 else sa.union_all(*selects))


def _containing(address: IPAddress, prefix_lens: Iterable[int]) -> list[sa.Select]:
    return [_key_probe(key) for key in containing_keys(address, prefix_lens)]


def _within(network: IPNetwork) -> list[sa.Select]:
    """Listings inside `network`: one index range per longer prefix length in use."""
    first = network.network_address
    last = network.broadcast_address
    selects = []
    for prefix_len in prefix_lengths(network.version):
        if prefix_len < network.prefixlen:
            continue
        [low] = containing_keys(first, [prefix_len])
        [high] = containing_keys(last, [prefix_len])
        selects.append(
            sa.select(Listing.id).where(
                Listing.version == network.version,
                Listing.prefix_len == prefix_len,
                Listing.net_start.between(low.net_start, high.net_start),
            )
        )
    return selects


def _match(q: str) -> sa.ColumnElement[bool]:
    if "/" in q:
        try:
            network = parse_network(q)
        except AddressError as exc:
            raise SearchError(str(exc)) from None
        shorter = [p for p in prefix_lengths(network.version) if p < network.prefixlen]
        return _ids_in(_within(network) + _containing(network.network_address, shorter))
    try:
        address = parse_address(q)
    except AddressError:
        return sa.func.lower(Listing.reason).contains(q.lower(), autoescape=True)
    return _ids_in(_containing(address, prefix_lengths(address.version)))


def _state(state: str, now: datetime) -> sa.ColumnExpressionArgument[bool]:
    """The states operators filter by, all from the one rule `Listing.in_force_at`."""
    if state == "active":
        return Listing.in_force_at(now)
    if state == "scheduled":
        return sa.and_(Listing.in_force_at(now), Listing.removal_effective_at.is_not(None))
    if state == "removed":
        return sa.not_(Listing.in_force_at(now))
    return sa.true()


@dataclass(frozen=True)
class History:
    """What an operator reads on a listing's page besides the listing itself."""

    events: Sequence[AuditEvent]  # oldest first
    requests: Sequence[DelistRequest]  # newest first
    same_network: Sequence[Listing]  # earlier and later listings of exactly this network
    evidence: Sequence[ListingEvidence]  # the sightings kept, newest first


def history(listing: Listing) -> History:
    key = NetworkKey(listing.version, listing.prefix_len, listing.net_start)
    return History(
        events=db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.listing_id == listing.id)
            .order_by(AuditEvent.at, AuditEvent.id)
        ).all(),
        requests=db.session.scalars(
            sa.select(DelistRequest)
            .where(DelistRequest.listing_id == listing.id)
            .order_by(DelistRequest.id.desc())
        ).all(),
        same_network=db.session.scalars(
            sa.select(Listing)
            .where(Listing.is_network(key), Listing.id != listing.id)
            .order_by(Listing.id.desc())
        ).all(),
        evidence=hits.timeline(listing),
    )


def search(q: str, state: str, after: int | None, now: datetime) -> Page:
    """One page of listings, newest first; `after` is the last id of the previous page."""
    if state not in STATES:
        raise SearchError(f"unknown state {state!r}")
    statement = sa.select(Listing).where(_state(state, now))
    q = q.strip()[:200]
    if q:
        statement = statement.where(_match(q))
    return newest_first(statement, Listing.id, after)
