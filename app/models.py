"""Database models: listings, delist requests, outgoing mail, audit events."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin
from sqlalchemy.ext.hybrid import hybrid_method

from app.extensions import db


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite keeps naive UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RequestStatus(StrEnum):
    """Where a delist request stands; stored as its value, checked by the database."""

    PENDING = "pending"  # waiting for the sender to press Delist IP
    NEEDS_REVIEW = "needs_review"  # waiting for an operator
    SCHEDULED = "scheduled"  # the removal is scheduled (it may be in effect already)
    DONE = "done"  # the removal took effect and the sender was told
    EXPIRED = "expired"  # the link was not used in time
    DENIED = "denied"  # an operator refused
    CANCELLED = "cancelled"  # an operator kept the listing after all


REQUEST_STATUSES = tuple(RequestStatus)
# Requests in these states hold their IP: at most one such request per IP.
OPEN_REQUEST_STATUSES = frozenset(
    {RequestStatus.PENDING, RequestStatus.NEEDS_REVIEW, RequestStatus.SCHEDULED}
)
# The states whose removal time, once reached, means the address is off the list.
REMOVING_STATUSES = frozenset({RequestStatus.SCHEDULED, RequestStatus.DONE})


def _in_list_sql(column: str, values: frozenset[RequestStatus]) -> sa.TextClause:
    """`column IN (...)` as literal SQL for partial index definitions, in the enum's order."""
    listed = ", ".join(f"'{status}'" for status in RequestStatus if status in values)
    return sa.text(f"{column} IN ({listed})")


# The condition of the open-request index, also the conflict target of the insert that
# opens a request (SQLite matches a partial index by its very text).
OPEN_REQUEST_WHERE = _in_list_sql("status", OPEN_REQUEST_STATUSES)


class _ListingEnd(Protocol):
    """What decides whether a listing is in force: an ORM object or a plain row alike."""

    removed_at: datetime | None
    removal_effective_at: datetime | None


def listing_ends_at(row: _ListingEnd) -> datetime | None:
    """When an unfinalised listing stops being in force by itself; None if nothing is planned."""
    return row.removal_effective_at


def before_end(end: Any, t: Any) -> bool:
    """Is `t` before `end` (None: no end)? Datetimes or epoch seconds, as long as both are one."""
    return end is None or t < end


def listing_in_force(row: _ListingEnd, t: datetime) -> bool:
    """The rule: a listing blocks at `t` unless finalised, or its end has come.

    `Listing.in_force_at` is this rule for ORM objects and SQL; plain rows (exports)
    and the policy service's index (via `listing_ends_at` and `before_end`) use it too.
    """
    return row.removed_at is None and before_end(listing_ends_at(row), t)


class Listing(db.Model):
    """One blocked address or range; removed rows stay as history."""

    __tablename__ = "listing"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    network: so.Mapped[str] = so.mapped_column(sa.String(49))
    version: so.Mapped[int] = so.mapped_column(sa.SmallInteger)
    prefix_len: so.Mapped[int] = so.mapped_column(sa.SmallInteger)
    # First address of the network, big-endian (4 bytes for IPv4, 16 for IPv6).
    net_start: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary(16))
    reason: so.Mapped[str] = so.mapped_column(sa.String(500))
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
        sa.Index("ix_listing_changed_at", "changed_at"),
        # Every row, removed ones too: operators search the history by address.
        sa.Index("ix_listing_network_key", "version", "prefix_len", "net_start"),
    )

    @property
    def is_range(self) -> bool:
        return self.prefix_len < (32 if self.version == 4 else 128)

    @hybrid_method
    def in_force_at(self, t: datetime) -> bool:
        """Does this listing block mail at `t`? In Python and, on the class, in SQL."""
        return listing_in_force(self, t)

    @in_force_at.inplace.expression
    @classmethod
    def _in_force_at_sql(cls, t: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(
            cls.removed_at.is_(None),
            sa.or_(cls.removal_effective_at.is_(None), cls.removal_effective_at > t),
        )

    @hybrid_method
    def end_reached_at(self, t: datetime) -> bool:
        """Not finalised, but no longer in force at `t`: the worker finalises these."""
        return self.removed_at is None and not listing_in_force(self, t)

    @end_reached_at.inplace.expression
    @classmethod
    def _end_reached_at_sql(cls, t: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(cls.removed_at.is_(None), cls.removal_effective_at <= t)

    def __repr__(self) -> str:
        return f"<Listing {self.network}>"


class ListingTotals(db.Model):
    """How many listings are not finalised (`removed_at` not set), in one row.

    Database triggers keep it (migration 0007), so every write counts, the bulk import's
    COPY and hand-written SQL included, and the dashboard need not count a million rows.
    On PostgreSQL the triggers append to ListingTotalsChange instead, and the worker folds
    those changes in (see app.listing_totals). On SQLite a batch migration that rebuilds
    the `listing` table drops its triggers: such a migration must create them again.
    """

    __tablename__ = "listing_totals"

    id: so.Mapped[int] = so.mapped_column(sa.SmallInteger, primary_key=True)
    unfinalised: so.Mapped[int] = so.mapped_column(sa.BigInteger)


class ListingTotalsChange(db.Model):
    """A change to ListingTotals not folded in yet (PostgreSQL's triggers write these)."""

    __tablename__ = "listing_totals_change"

    id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    change: so.Mapped[int] = so.mapped_column(sa.BigInteger)


class ListingPrefix(db.Model):
    """Prefix lengths that occur in the list, so a lookup probes only those."""

    __tablename__ = "listing_prefix"

    version: so.Mapped[int] = so.mapped_column(sa.SmallInteger, primary_key=True)
    prefix_len: so.Mapped[int] = so.mapped_column(sa.SmallInteger, primary_key=True)


class DelistRequest(db.Model):
    """A sender's request to remove one IP, from submission to its outcome."""

    __tablename__ = "delist_request"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    ip: so.Mapped[str] = so.mapped_column(sa.String(39))
    listing_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("listing.id"))
    status: so.Mapped[RequestStatus] = so.mapped_column(
        sa.Enum(
            RequestStatus,
            name="status",
            native_enum=False,
            create_constraint=True,
            length=20,
            values_callable=lambda statuses: [status.value for status in statuses],
        )
    )
    locale: so.Mapped[str] = so.mapped_column(sa.String(10), default="en")
    client_address: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    # SHA-256 of the current link's nonce; the nonce itself is only in the mail.
    nonce_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    expires_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    confirmed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    removal_effective_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    closed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    listing: so.Mapped[Listing | None] = so.relationship(foreign_keys=[listing_id])

    __table_args__ = (
        # The database itself refuses a second open request for one IP.
        sa.Index(
            "uq_delist_request_open_ip",
            "ip",
            unique=True,
            sqlite_where=OPEN_REQUEST_WHERE,
            postgresql_where=OPEN_REQUEST_WHERE,
        ),
        sa.Index("ix_delist_request_status_expires", "status", "expires_at"),
    )

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        """The IP address to delist (stored normalised when the request was made)."""
        return ipaddress.ip_address(self.ip)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_REQUEST_STATUSES

    @hybrid_method
    def link_expired_at(self, t: datetime) -> bool:
        """A pending request whose link no longer works at `t` (expired, closed or not)."""
        return self.status == RequestStatus.PENDING and (
            self.expires_at is None or self.expires_at <= t
        )

    @link_expired_at.inplace.expression
    @classmethod
    def _link_expired_at_sql(cls, t: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(cls.status == RequestStatus.PENDING, cls.expires_at <= t)

    @hybrid_method
    def removal_in_effect_at(self, t: datetime) -> bool:
        """Has this request's removal taken effect by `t` (whether or not the worker closed it)?"""
        return (
            self.status in REMOVING_STATUSES
            and self.removal_effective_at is not None
            and self.removal_effective_at <= t
        )

    @removal_in_effect_at.inplace.expression
    @classmethod
    def _removal_in_effect_at_sql(cls, t: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(cls.status.in_(REMOVING_STATUSES), cls.removal_effective_at <= t)

    def __repr__(self) -> str:
        return f"<DelistRequest {self.public_id} {self.ip} {self.status}>"


class OutboxMessage(db.Model):
    """An email waiting for, or done with, delivery by the worker."""

    __tablename__ = "outbox_message"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    request_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("delist_request.id"))
    recipient: so.Mapped[str] = so.mapped_column(sa.String(254))
    subject: so.Mapped[str] = so.mapped_column(sa.String(255))
    body_text: so.Mapped[str] = so.mapped_column(sa.Text)
    body_html: so.Mapped[str] = so.mapped_column(sa.Text)
    message_id: so.Mapped[str] = so.mapped_column(sa.String(255), unique=True)
    # A secret the bodies carry (the confirmation link); blanked once delivered.
    secret: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default="queued")
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    delist_request: so.Mapped[DelistRequest | None] = so.relationship()

    __table_args__ = (
        sa.Index("ix_outbox_message_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_message_recipient_created", "recipient", "created_at"),
        sa.Index("ix_outbox_message_request", "request_id"),
    )

    @property
    def may_be_resent(self) -> bool:
        """A failed message may be tried again; a delivered one copied, unless it held a link."""
        return self.status == "failed" or (self.status == "sent" and self.kind != "confirmation")


class AuditEvent(db.Model):
    """Who changed what, when, and from where."""

    __tablename__ = "audit_event"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    actor: so.Mapped[str] = so.mapped_column(sa.String(254))
    action: so.Mapped[str] = so.mapped_column(sa.String(50))
    listing_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("listing.id"))
    request_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("delist_request.id"))
    client_address: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    detail: so.Mapped[str | None] = so.mapped_column(sa.Text)

    __table_args__ = (
        sa.Index("ix_audit_event_request", "request_id", "at"),
        sa.Index("ix_audit_event_listing", "listing_id", "at"),
        sa.Index("ix_audit_event_at", "at"),
    )


OPERATOR_ROLES = ("admin", "viewer")


class Operator(UserMixin, db.Model):
    """A person who runs the list: `viewer` reads, `admin` may change things."""

    __tablename__ = "operator"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    role: so.Mapped[str] = so.mapped_column(sa.String(10))
    active: so.Mapped[bool] = so.mapped_column(default=True)
    totp_secret: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    # The last TOTP time step used, so a code cannot be replayed.
    totp_last_step: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    # Part of the session identity: raising it ends every session of this operator.
    session_epoch: so.Mapped[int] = so.mapped_column(default=0)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    last_login_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"

    @property
    def actor(self) -> str:
        return f"operator:{self.email}"


class SpentChallenge(db.Model):
    """A solved form challenge that was used once, kept until it expires so it cannot be reused."""

    __tablename__ = "spent_challenge"

    signature: so.Mapped[str] = so.mapped_column(sa.String(128), primary_key=True)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)


REPORT_STATUSES = ("open", "closed")


class AbuseReport(db.Model):
    """Spam from some network, reported by anyone with the message's headers, for operators."""

    __tablename__ = "abuse_report"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    reporter_email: so.Mapped[str] = so.mapped_column(sa.String(254))
    headers: so.Mapped[str] = so.mapped_column(sa.Text)
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # The IP addresses found in the headers, in order, comma-separated: where to look first.
    addresses: so.Mapped[str] = so.mapped_column(sa.String(2000), default="")
    locale: so.Mapped[str] = so.mapped_column(sa.String(10), default="en")
    client_address: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="open")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    closed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    closed_by: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    outcome: so.Mapped[str | None] = so.mapped_column(sa.Text)

    __table_args__ = (sa.Index("ix_abuse_report_status", "status", "id"),)

    @property
    def address_list(self) -> list[str]:
        return [address for address in self.addresses.split(",") if address]
