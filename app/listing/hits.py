"""Abuse seen from a network: list it, or count a hit on the listing that already blocks it.

A hit counts one more sighting, moves the last sighting to now, keeps the evidence (the
newest `KEEP` items per listing) and extends the listing's expiry to at least now plus its
lifetime: a network that keeps sending abuse stays listed. Machines (the write API, a
log watcher) and operators report abuse through `report_abuse`, or many reports at once
through `report_all`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.core import audit
from app.core.actor import Actor
from app.core.errors import Invalid
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import IPNetwork, network_key
from app.listing.guard import ListingGuard, ListingRefused
from app.listing.lifetimes import DEFAULT, Asked, expiry
from app.models import Listing, ListingEvidence

KEEP = 20  # evidence items kept per listing, newest first
SOURCE_LENGTH = 100


@dataclass(frozen=True)
class Evidence:
    """One sighting of abuse: what kind, from which source, and a short text."""

    kind: str
    source: str
    text: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ListingEvidence.KINDS:
            raise Invalid(f"kind must be one of {', '.join(ListingEvidence.KINDS)}")
        if not self.source or len(self.source) > SOURCE_LENGTH:
            raise Invalid(f"the source must be 1 to {SOURCE_LENGTH} characters")
        if self.text is not None and len(self.text) > ListingEvidence.TEXT_LENGTH:
            limit = ListingEvidence.TEXT_LENGTH
            raise Invalid(f"the evidence is too long (at most {limit} characters)")


@dataclass(frozen=True)
class Sighting:
    """One report of abuse from a network; `reason` and `lifetime` serve if it is listed anew."""

    network: IPNetwork
    reason: str
    evidence: Evidence
    lifetime: Asked = DEFAULT


def _evidence_row(listing_id: int, evidence: Evidence, now: datetime) -> dict[str, Any]:
    return {
        "listing_id": listing_id,
        "seen_at": now,
        "kind": evidence.kind,
        "source": evidence.source,
        "text": evidence.text,
    }


def _prune(listing_ids: Iterable[int]) -> None:
    """Drop the evidence of these listings beyond each one's newest KEEP items."""
    ranked = (
        sa.select(
            ListingEvidence.id,
            sa.func.row_number()
            .over(
                partition_by=ListingEvidence.listing_id,
                order_by=(ListingEvidence.seen_at.desc(), ListingEvidence.id.desc()),
            )
            .label("newest"),
        )
        .where(ListingEvidence.listing_id.in_(list(listing_ids)))
        .subquery()
    )
    db.session.execute(
        sa.delete(ListingEvidence)
        .where(ListingEvidence.id.in_(sa.select(ranked.c.id).where(ranked.c.newest > KEEP)))
        .execution_options(synchronize_session=False)
    )


# One hit: the count added in SQL, so reports at once on PostgreSQL each add theirs (the
# second waits for the first's row lock, then adds to what it wrote; `+= 1` in Python would
# write one number twice), and an expiry that only ever moves later (never on a permanent one).
_RENEWED = sa.bindparam("renewed", type_=Listing.expires_at.type)
_NOW = sa.bindparam("now", type_=Listing.changed_at.type)
_COUNT_HITS = (
    sa.update(Listing)
    .where(Listing.id == sa.bindparam("listing_id"))
    .values(
        hit_count=Listing.hit_count + sa.bindparam("hits"),
        first_seen_at=sa.bindparam("first_seen_at", type_=Listing.first_seen_at.type),
        last_seen_at=_NOW,
        changed_at=_NOW,  # copies of the list (the policy service) see the new expiry
        expires_at=sa.case(
            (Listing.expires_at.is_(None), None),
            (Listing.expires_at < _RENEWED, _RENEWED),
            else_=Listing.expires_at,
        ),
    )
)


def record_hits(hits: list[tuple[Listing, Evidence]], *, actor: Actor, now: datetime) -> None:
    """Count each sighting on its listing (in force), keep its evidence, and keep the listing
    listed for at least its lifetime from now; a few statements for any number of hits."""
    if not hits:
        return
    listings = {listing.id: listing for listing, _ in hits}
    counts = Counter(listing.id for listing, _ in hits)
    db.session.connection().execute(
        _COUNT_HITS,
        [
            {
                "listing_id": listing_id,
                "hits": counts[listing_id],
                "first_seen_at": listing.seen_first,
                "now": now,
                "renewed": expiry(listing.lifetime_seconds, now),
            }
            for listing_id, listing in listings.items()
        ],
    )
    written = db.session.execute(
        sa.select(Listing.id, Listing.hit_count, Listing.expires_at).where(
            Listing.id.in_(list(listings))
        )
    )
    for row in written:
        listing = listings[row.id]
        changes = {"hit_count": row.hit_count, "expires_at": row.expires_at, "changed_at": now}
        changes |= {"first_seen_at": listing.seen_first, "last_seen_at": now}
        for name, value in changes.items():
            so.attributes.set_committed_value(listing, name, value)
    db.session.execute(
        sa.insert(ListingEvidence),
        [_evidence_row(listing.id, evidence, now) for listing, evidence in hits],
    )
    # A listing keeps at most one item per hit (the report that listed it counts as its
    # first; other ways of listing keep none), so below KEEP hits there is nothing to drop.
    _prune(listing.id for listing in listings.values() if listing.hit_count > KEEP)
    audit.record_many(
        "listing.hit",
        actor=actor,
        now=now,
        events=[(listing.id, evidence.kind) for listing, evidence in hits],
    )


def report_all(
    sightings: list[Sighting], *, actor: Actor, now: datetime
) -> list[blocklist.AddResult | ListingRefused]:
    """Each sighting lists its network or is a hit on the listing that blocks exactly it, in
    the order given; a refused one is answered with why and changes nothing. The hits are
    recorded together (`record_hits`), so a batch of reports costs a few statements."""
    guard = ListingGuard.current()
    keys = [network_key(sighting.network) for sighting in sightings]
    listed = blocklist.unfinalised_listings(keys)
    results: list[blocklist.AddResult | ListingRefused] = []
    hits: list[tuple[Listing, Evidence]] = []
    for sighting, key in zip(sightings, keys, strict=True):
        if why := guard.refusal(key, str(sighting.network)):
            results.append(ListingRefused(why))
            continue
        listing = listed.get(key)
        if listing is not None and listing.in_force_at(now):
            hits.append((listing, sighting.evidence))
            results.append(blocklist.AddResult(listing, created=False))
            continue
        result = blocklist.add_listing(
            sighting.network,
            sighting.reason,
            actor=actor,
            now=now,
            source=sighting.evidence.kind,
            lifetime=sighting.lifetime,
            guard=guard,
        )
        listed[key] = result.listing
        results.append(result)
        if not result.created:  # another transaction listed it since the look-up above
            hits.append((result.listing, sighting.evidence))
            continue
        db.session.add(ListingEvidence(**_evidence_row(result.listing.id, sighting.evidence, now)))
    record_hits(hits, actor=actor, now=now)
    return results


def report_abuse(
    network: IPNetwork,
    reason: str,
    evidence: Evidence,
    *,
    actor: Actor,
    now: datetime,
    lifetime: Asked = DEFAULT,
) -> blocklist.AddResult:
    """List `network` with this evidence (created), or count a hit on its listing (not).
    Raises ListingRefused for what may never be listed."""
    [result] = report_all([Sighting(network, reason, evidence, lifetime)], actor=actor, now=now)
    if isinstance(result, ListingRefused):
        raise result
    return result


def timeline(listing: Listing) -> list[ListingEvidence]:
    """The evidence kept for a listing, newest first (operators only)."""
    return list(
        db.session.scalars(
            sa.select(ListingEvidence)
            .where(ListingEvidence.listing_id == listing.id)
            .order_by(ListingEvidence.seen_at.desc(), ListingEvidence.id.desc())
        )
    )
