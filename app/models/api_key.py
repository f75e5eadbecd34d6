"""Keys that let other systems use the write API (spam traps, filters, log watchers)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import Model
from app.models.types import UTCDateTime

API_SCOPES = ("listings:read", "listings:write")


class ApiKey(Model):
    """A named key with scopes; the database keeps only a hash of the key itself.

    Names are never reused, revoked keys included, so `apikey:NAME` in the audit
    log always means one key.
    """

    __tablename__ = "api_key"
    NAME_LENGTH = 60

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(NAME_LENGTH), unique=True)
    # SHA-256 of the key, hex (app.accounts.api_keys says why a fast hash is right).
    key_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    # Space-separated, from API_SCOPES.
    scopes: so.Mapped[str] = so.mapped_column(sa.String(200))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    created_by: so.Mapped[str] = so.mapped_column(sa.String(254))
    last_used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    revoked_by: so.Mapped[str | None] = so.mapped_column(sa.String(254))

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiKey {self.name}>"
