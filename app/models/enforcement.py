"""Enforcement points: the places that hold a copy of the list and refuse mail by it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import Model
from app.models.types import UTCDateTime, stored_enum


class EnforcementKind(StrEnum):
    """What holds the copy: a policy server's index, or an exported file for rbldnsd or Postfix."""

    POLICY = "policy"
    RBLDNSD = "rbldnsd"
    POSTFIX_CIDR = "postfix-cidr"


class EnforcementPoint(Model):
    """One copy of the list and its last heartbeat: a row per name, replaced at each report."""

    __tablename__ = "enforcement_point"
    NAME_LENGTH = 200

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(NAME_LENGTH), unique=True)
    kind: so.Mapped[EnforcementKind] = so.mapped_column(stored_enum(EnforcementKind, "kind"))
    # The time its copy of the list is current as of: a policy server's last successful
    # refresh, an export's writing.
    refreshed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    # The first refresh of its current unbroken run (a start, or the end of an outage).
    up_since: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    # How often it refreshes (a policy server); None for an export, written once.
    refresh_seconds: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    listings: so.Mapped[int] = so.mapped_column(sa.Integer)
