"""The allowlist: networks that no path may ever list (the operator's own mail servers)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import Model
from app.models.types import NetworkColumns, UTCDateTime


class AllowlistEntry(NetworkColumns, Model):
    """A network that must never be listed, with why; removing the entry is the only way out."""

    __tablename__ = "allowlist_entry"
    __table_args__ = (sa.UniqueConstraint("version", "prefix_len", "net_start"),)
    REASON_LENGTH = 500

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    reason: so.Mapped[str] = so.mapped_column(sa.String(REASON_LENGTH))
    added_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    added_by: so.Mapped[str] = so.mapped_column(sa.String(254))
