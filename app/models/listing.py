"""The list: listings (in force or history), the prefix lengths in use, the kept count.

The rule "is this listing in force at t?" lives here, once: `listing_in_force` for
plain rows, `Listing.in_force_at` for objects and SQL.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.ext.hybrid import hybrid_method, hybrid_property

from app.extensions import Model
from app.models.types import NetworkColumns, UTCDateTime


class _ListingEnd(Protocol):
    """What decides whether a listing is in force: an ORM object or a plain row alike."""

    removed_at: datetime | None
    removal_effective_at: datetime | None
    expires_at: datetime | None


def listing_ends_at(row: _ListingEnd) -> datetime | None:
    """When an unfinalised listing stops being in force by itself: its scheduled removal or
    its expiry, whichever comes first; None when neither is set."""
    removal, expiry = row.removal_effective_at, row.expires_at
    if removal is None or expiry is None:
        return removal or expiry
    return min(removal, expiry)


# Who ended a listing that expired on its own (its `removed_by`, and the audit log's actor).
EXPIRED_BY = "expiry"


def ends_by_expiry(row: _ListingEnd) -> bool:
    """Does the listing end by expiring (not by a scheduled removal, which wins a tie)?"""
    removal, expiry = row.removal_effective_at, row.expires_at
    return expiry is not None and (removal is None or expiry < removal)


def before_end(end: Any, t: Any) -> bool:
    """Is `t` before `end` (None: no end)? Datetimes or epoch seconds, as long as both are one."""
    return end is None or t < end


def listing_in_force(row: _ListingEnd, t: datetime) -> bool:
    """The rule: a listing blocks at `t` unless finalised, or its end has come.

    `Listing.in_force_at` is this rule for ORM objects and SQL; plain rows (exports)
    and the policy service's index (via `listing_ends_at` and `before_end`) use it too.
    """
    return row.removed_at is None and before_end(listing_ends_at(row), t)


class Listing(NetworkColumns, Model):
    """One blocked address or range; removed rows stay as history."""

    __tablename__ = "listing"
    REASON_LENGTH = 500

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    reason: so.Mapped[str] = so.mapped_column(sa.String(REASON_LENGTH))
    notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    source: so.Mapped[str] = so.mapped_column(sa.String(20), default="manual")
    listed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    listed_by: so.Mapped[str] = so.mapped_column(sa.String(254))
    removal_effective_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    removal_request_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("delist_request.id", use_alter=True)
    )
    removal_scheduled_by: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    removed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    removed_by: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    # When the listing ends on its own (None: permanent), and the lifetime it was given,
    # which a repeat listing of the same network multiplies (app.listing.lifetimes).
    expires_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    lifetime_seconds: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    # How often abuse was seen (app.listing.hits); the evidence itself is ListingEvidence.
    # Rows from before these columns have no times: their listing time stands in.
    hit_count: so.Mapped[int] = so.mapped_column(sa.Integer, default=1, server_default="1")
    first_seen_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    last_seen_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # Set on every change, so in-memory copies of the list (the policy server)
    # can fetch only what changed since they last looked.
    changed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)

    __table_args__ = (
        # One active row per network; also the index every lookup probes.
        sa.Index(
            "uq_listing_active_network",
            "version",
            "prefix_len",
            "net_start",
            unique=True,
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        ),
        sa.Index("ix_listing_due_removal", "removal_effective_at"),
        sa.Index("ix_listing_expires_at", "expires_at"),
        sa.Index("ix_listing_changed_at", "changed_at"),
        # Every row, removed ones too: operators search the history by address.
        sa.Index("ix_listing_network_key", "version", "prefix_len", "net_start"),
    )

    @property
    def seen_first(self) -> datetime:
        return self.first_seen_at or self.listed_at

    @property
    def seen_last(self) -> datetime:
        return self.last_seen_at or self.listed_at

    @hybrid_property
    def ends_at(self) -> datetime | None:
        """When it stops being in force by itself (see `listing_ends_at`); SQL on the class."""
        return listing_ends_at(self)

    @ends_at.inplace.expression
    @classmethod
    def _ends_at_sql(cls) -> sa.ColumnElement[datetime | None]:
        removal, expiry = cls.removal_effective_at, cls.expires_at
        return sa.case(
            (removal.is_(None), expiry),
            (expiry.is_(None), removal),
            (expiry < removal, expiry),
            else_=removal,
        )

    @hybrid_property
    def expires_by_itself(self) -> bool:
        """Is its end an expiry, not a scheduled removal? (Permanent listings: no.) The
        rule is `ends_by_expiry`; on the class, the same in SQL."""
        return ends_by_expiry(self)

    @expires_by_itself.inplace.expression
    @classmethod
    def _expires_by_itself_sql(cls) -> sa.ColumnElement[bool]:
        removal, expiry = cls.removal_effective_at, cls.expires_at
        return sa.and_(expiry.is_not(None), sa.or_(removal.is_(None), expiry < removal))

    def expired_by(self, t: datetime) -> bool:
        """Has the listing ended by expiring, by `t`? Recorded so by the worker, or reached
        and not recorded yet (a listing an operator removed first did not expire)."""
        if self.removed_at is not None:
            return self.removed_by == EXPIRED_BY
        return ends_by_expiry(self) and not listing_in_force(self, t)

    @property
    def is_range(self) -> bool:
        return self.prefix_len < (32 if self.version == 4 else 128)

    @hybrid_method
    def in_force_at(self, t: datetime) -> bool:
        """Does this listing block mail at `t`? In Python and, on the class, in SQL."""
        return listing_in_force(self, t)

    @in_force_at.expression
    @classmethod
    def _in_force_at_sql(cls, t: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(
            cls.removed_at.is_(None),
            sa.or_(cls.removal_effective_at.is_(None), cls.removal_effective_at > t),
            sa.or_(cls.expires_at.is_(None), cls.expires_at > t),
        )

    @hybrid_method
    def end_reached_at(self, t: datetime) -> bool:
        """Not finalised, but no longer in force at `t`: the worker finalises these."""
        return self.removed_at is None and not listing_in_force(self, t)

    @end_reached_at.expression
    @classmethod
    def _end_reached_at_sql(cls, t: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(
            cls.removed_at.is_(None), sa.or_(cls.removal_effective_at <= t, cls.expires_at <= t)
        )

    def __repr__(self) -> str:
        return f"<Listing {self.network}>"


class ListingEvidence(Model):
    """One sighting of abuse behind a listing: when, from which source, what kind, a short
    text. Operators only: texts may hold spam-trap addresses. The newest few are kept."""

    __tablename__ = "listing_evidence"
    KINDS = ("trap", "filter", "report", "operator")
    TEXT_LENGTH = 500

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    listing_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("listing.id"), index=True)
    seen_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    source: so.Mapped[str] = so.mapped_column(sa.String(100))
    text: so.Mapped[str | None] = so.mapped_column(sa.String(TEXT_LENGTH))


# What every reader of plain rows needs to apply the rule (exports, the policy index).
END_COLUMNS = (Listing.removed_at, Listing.removal_effective_at, Listing.expires_at)


class ListingTotals(Model):
    """How many listings are not finalised (`removed_at` not set), in one row.

    Database triggers keep it (migration 0007), so every write counts, the bulk import's
    COPY and hand-written SQL included, and the dashboard need not count a million rows.
    On PostgreSQL the triggers append to ListingTotalsChange instead, and the worker folds
    those changes in (see app.listing.totals). On SQLite a batch migration that rebuilds
    the `listing` table drops its triggers: such a migration must create them again.
    """

    __tablename__ = "listing_totals"

    id: so.Mapped[int] = so.mapped_column(sa.SmallInteger, primary_key=True)
    unfinalised: so.Mapped[int] = so.mapped_column(sa.BigInteger)


class ListingTotalsChange(Model):
    """A change to ListingTotals not folded in yet (PostgreSQL's triggers write these)."""

    __tablename__ = "listing_totals_change"

    id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    change: so.Mapped[int] = so.mapped_column(sa.BigInteger)


class ListingPrefix(Model):
    """Prefix lengths that occur in the list, so a lookup probes only those."""

    __tablename__ = "listing_prefix"

    version: so.Mapped[int] = so.mapped_column(sa.SmallInteger, primary_key=True)
    prefix_len: so.Mapped[int] = so.mapped_column(sa.SmallInteger, primary_key=True)


class ListingFlow(Model):
    """Listings added (by source) and removed (by who) per UTC day, for the dashboard.

    Database triggers keep it (migration 0015) as they keep ListingTotals, so it always
    equals a GROUP BY over `listing`: `kind` "added" counts rows by `listed_at` and
    `source`, "removed" by `removed_at` and `removed_by`. On PostgreSQL the triggers append
    to ListingFlowChange and the worker folds those in (app.listing.flow). A batch
    migration that rebuilds `listing` on SQLite must create these triggers again too.
    """

    __tablename__ = "listing_flow"

    day: so.Mapped[date] = so.mapped_column(sa.Date, primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(10), primary_key=True)
    party: so.Mapped[str] = so.mapped_column(sa.String(254), primary_key=True)
    listings: so.Mapped[int] = so.mapped_column(sa.BigInteger)


class ListingFlowChange(Model):
    """A change to ListingFlow not folded in yet (PostgreSQL's triggers write these)."""

    __tablename__ = "listing_flow_change"

    id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    day: so.Mapped[date] = so.mapped_column(sa.Date)
    kind: so.Mapped[str] = so.mapped_column(sa.String(10))
    party: so.Mapped[str] = so.mapped_column(sa.String(254))
    change: so.Mapped[int] = so.mapped_column(sa.BigInteger)
