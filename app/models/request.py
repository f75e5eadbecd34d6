"""Delist requests and the states they go through."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.ext.hybrid import hybrid_method

from app.extensions import Model
from app.models.listing import Listing
from app.models.types import UTCDateTime, stored_enum


class RequestStatus(StrEnum):
    """Where a delist request stands; stored as its value, checked by the database."""

    PENDING = "pending"  # waiting for the sender to press Delist IP
    NEEDS_REVIEW = "needs_review"  # waiting for an operator
    SCHEDULED = "scheduled"  # the removal is scheduled (it may be in effect already)
    DONE = "done"  # the removal took effect and the sender was told
    EXPIRED = "expired"  # the link was not used in time
    DENIED = "denied"  # an operator refused
    CANCELLED = "cancelled"  # an operator kept the listing after all
    LAPSED = "lapsed"  # the listing expired on its own before the removal was due


REQUEST_STATUSES = tuple(RequestStatus)
# Requests in these states hold their IP: at most one such request per IP.
OPEN_REQUEST_STATUSES = frozenset(
    {RequestStatus.PENDING, RequestStatus.NEEDS_REVIEW, RequestStatus.SCHEDULED}
)
# The states whose removal time, once reached, means the address is off the list.
REMOVING_STATUSES = frozenset({RequestStatus.SCHEDULED, RequestStatus.DONE})


def status_in(
    column: sa.ColumnElement[RequestStatus] | so.InstrumentedAttribute[RequestStatus],
    values: frozenset[RequestStatus],
) -> sa.ColumnElement[bool]:
    """`column IN (...)` with one bound value per state, for statements built once: a bound
    list would be expanded into the SQL text again on every run."""
    return column.in_(
        [sa.literal(status, column.type) for status in RequestStatus if status in values]
    )


def _in_list_sql(column: str, values: frozenset[RequestStatus]) -> sa.TextClause:
    """`column IN (...)` as literal SQL for partial index definitions, in the enum's order."""
    listed = ", ".join(f"'{status}'" for status in RequestStatus if status in values)
    return sa.text(f"{column} IN ({listed})")


# The condition of the open-request index, also the conflict target of the insert that
# opens a request (SQLite matches a partial index by its very text).
OPEN_REQUEST_WHERE = _in_list_sql("status", OPEN_REQUEST_STATUSES)


class DelistRequest(Model):
    """A sender's request to remove one IP, from submission to its outcome."""

    __tablename__ = "delist_request"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    ip: so.Mapped[str] = so.mapped_column(sa.String(39))
    listing_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("listing.id"))
    status: so.Mapped[RequestStatus] = so.mapped_column(stored_enum(RequestStatus, "status"))
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
        sa.Index("ix_delist_request_created_at", "created_at"),
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

    @link_expired_at.expression
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

    @removal_in_effect_at.expression
    @classmethod
    def _removal_in_effect_at_sql(cls, t: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(cls.status.in_(REMOVING_STATUSES), cls.removal_effective_at <= t)

    def __repr__(self) -> str:
        return f"<DelistRequest {self.public_id} {self.ip} {self.status}>"
