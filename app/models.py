"""Database models: listings, delist requests, outgoing mail, audit events."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin

from app.extensions import db


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite keeps naive UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Requests in these states hold their IP: at most one such request per IP.
OPEN_REQUEST_STATUSES = ("pending", "needs_review", "scheduled")
REQUEST_STATUSES = (*OPEN_REQUEST_STATUSES, "done", "expired", "denied", "cancelled")


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

    def is_listed_at(self, now: datetime) -> bool:
        if self.removed_at is not None:
            return False
        return self.removal_effective_at is None or self.removal_effective_at > now

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
    status: so.Mapped[str] = so.mapped_column(sa.String(20))
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
            sqlite_where=sa.text("status IN ('pending', 'needs_review', 'scheduled')"),
            postgresql_where=sa.text("status IN ('pending', 'needs_review', 'scheduled')"),
        ),
        sa.Index("ix_delist_request_status_expires", "status", "expires_at"),
    )

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

    request: so.Mapped[DelistRequest | None] = so.relationship()

    __table_args__ = (
        sa.Index("ix_outbox_message_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_message_recipient_created", "recipient", "created_at"),
        sa.Index("ix_outbox_message_request", "request_id"),
    )


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
