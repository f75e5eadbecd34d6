"""Column types every table shares."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

import sqlalchemy as sa
import sqlalchemy.orm as so


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


def stored_enum(enum: type[StrEnum], name: str) -> sa.Enum:
    """A StrEnum stored as its value in a short string column, with a CHECK of the values."""
    return sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
    )


class _NetworkKey(Protocol):
    """What names a network exactly (app.listing.addresses.NetworkKey is one)."""

    @property
    def version(self) -> int: ...
    @property
    def prefix_len(self) -> int: ...
    @property
    def net_start(self) -> bytes: ...


class NetworkColumns:
    """A network as people write it and as the fixed-width key that indexes compare."""

    network: so.Mapped[str] = so.mapped_column(sa.String(49))
    version: so.Mapped[int] = so.mapped_column(sa.SmallInteger)
    prefix_len: so.Mapped[int] = so.mapped_column(sa.SmallInteger)
    # First address of the network, big-endian (4 bytes for IPv4, 16 for IPv6).
    net_start: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary(16))

    @classmethod
    def is_network(cls, key: _NetworkKey) -> sa.ColumnElement[bool]:
        """SQL condition: the row holds exactly the network with this key (any state)."""
        return sa.and_(
            cls.version == key.version,
            cls.prefix_len == key.prefix_len,
            cls.net_start == key.net_start,
        )
