"""The audit trail's table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import Model
from app.models.types import UTCDateTime


class AuditEvent(Model):
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
