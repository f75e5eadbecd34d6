"""Operators: the people who run the list."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin

from app.extensions import Model
from app.models.types import UTCDateTime

OPERATOR_ROLES = ("admin", "viewer")


class Operator(UserMixin, Model):
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
