"""Abuse handling: spent form challenges and abuse reports."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import Model
from app.models.types import UTCDateTime


class SpentChallenge(Model):
    """A solved form challenge that was used once, kept until it expires so it cannot be reused."""

    __tablename__ = "spent_challenge"

    signature: so.Mapped[str] = so.mapped_column(sa.String(128), primary_key=True)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)


REPORT_STATUSES = ("open", "closed")


class AbuseReport(Model):
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
