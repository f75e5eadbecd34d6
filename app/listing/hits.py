"""Abuse seen from a network: list it, or count a hit on the listing that already blocks it.

A hit counts one more sighting, moves the last sighting to now, keeps the evidence (the
newest `KEEP` items per listing) and extends the listing's expiry to at least now plus its
lifetime: a network that keeps sending abuse stays listed. Machines (the write API, a
log watcher) and operators report abuse through `report_abuse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.core import audit
from app.core.actor import Actor
from app.core.errors import Invalid
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import IPNetwork
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


def record(listing: Listing, evidence: Evidence, now: datetime, *, prune: bool = True) -> None:
    """Keep `evidence` with the listing; with `prune`, drop the oldest beyond the newest KEEP."""
    db.session.add(
        ListingEvidence(
            listing_id=listing.id,
            seen_at=now,
            kind=evidence.kind,
            source=evidence.source,
            text=evidence.text,
        )
    )
    if not prune:
        return
    db.session.flush()
    kept = (
        sa.select(ListingEvidence.id)
        .where(ListingEvidence.listing_id == listing.id)
        .order_by(ListingEvidence.seen_at.desc(), ListingEvidence.id.desc())
        .limit(KEEP)
    )
    db.session.execute(
        sa.delete(ListingEvidence)
        .where(ListingEvidence.listing_id == listing.id, ListingEvidence.id.not_in(kept))
        .execution_options(synchronize_session=False)
    )


def hit(listing: Listing, evidence: Evidence, *, actor: Actor, now: datetime) -> None:
    """Count one more sighting on a listing in force, and keep it listed for its lifetime."""
    expires_at = listing.expires_at
    renewed = expiry(listing.lifetime_seconds, now)
    if expires_at is not None and renewed is not None:
        expires_at = max(expires_at, renewed)
    changes = {
        "first_seen_at": listing.seen_first,
        "last_seen_at": now,
        "changed_at": now,  # copies of the list (the policy service) see the new expiry
        "expires_at": expires_at,
    }
    # One statement, the count added in SQL: two reports at once on PostgreSQL each add
    # their one (the second waits for the first's row lock, then adds to what it wrote);
    # `+= 1` in Python would write the same number twice.
    hit_count = db.session.execute(
        sa.update(Listing)
        .where(Listing.id == listing.id)
        .values(hit_count=Listing.hit_count + 1, **changes)
        .returning(Listing.hit_count)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    for name, value in {**changes, "hit_count": hit_count}.items():
        so.attributes.set_committed_value(listing, name, value)
    # A listing keeps at most one item per hit (the report that listed it counts as its
    # first; other ways of listing keep none), so below KEEP hits there is nothing to drop.
    record(listing, evidence, now, prune=hit_count > KEEP)
    audit.record("listing.hit", actor=actor, now=now, listing=listing, detail=evidence.kind)


def report_abuse(
    network: IPNetwork,
    reason: str,
    evidence: Evidence,
    *,
    actor: Actor,
    now: datetime,
    lifetime: Asked = DEFAULT,
) -> blocklist.AddResult:
    """List `network` with this evidence (created), or count a hit on its listing (not)."""
    result = blocklist.add_listing(
        network, reason, actor=actor, now=now, source=evidence.kind, lifetime=lifetime
    )
    if result.created:
        record(result.listing, evidence, now, prune=False)
    else:
        hit(result.listing, evidence, actor=actor, now=now)
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
