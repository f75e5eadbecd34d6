"""SQL written once: what differs between the two databases we run on, and row counts."""

from __future__ import annotations

from typing import Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db


def insert(model: Any, dialect: str | None = None) -> Any:
    """An INSERT for `model` that knows ON CONFLICT, on SQLite and PostgreSQL alike (on the
    session's database, or the one named)."""
    sqlite = (dialect or dialect_name()) == "sqlite"
    return sqlite_insert(model) if sqlite else pg_insert(model)


def rowcount(result: sa.Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched (typed as a Result, it is a CursorResult)."""
    return cast("sa.CursorResult[Any]", result).rowcount


def dialect_name() -> str:
    """The database the session talks to: "sqlite" or "postgresql"."""
    return db.session.get_bind().dialect.name


# A UTC timestamp's day or hour as text ("2026-03-02", "2026-03-02 09"): PostgreSQL formats
# its timestamptz; SQLite keeps UTC as ISO text (models.UTCDateTime), whose first 10 or 13
# characters are that text already (a slice costs a fifth of strftime's parsing).
_BUCKET_FORMATS = {"day": "YYYY-MM-DD", "hour": "YYYY-MM-DD HH24"}
_BUCKET_LENGTHS = {"day": 10, "hour": 13}


def utc_bucket(
    column: sa.SQLColumnExpression[Any], unit: Literal["day", "hour"]
) -> sa.ColumnElement[str]:
    """The UTC day or hour a timestamp column falls in, as text that sorts in time order,
    for GROUP BY on either database."""
    if dialect_name() == "sqlite":
        return sa.func.substr(column, 1, _BUCKET_LENGTHS[unit], type_=sa.String())
    return sa.func.to_char(
        sa.func.timezone("UTC", column), _BUCKET_FORMATS[unit], type_=sa.String()
    )


def seconds_between(
    start: sa.SQLColumnExpression[Any], end: sa.SQLColumnExpression[Any]
) -> sa.ColumnElement[float]:
    """`end - start` in seconds, computed by the database (no datetimes to parse)."""
    if dialect_name() == "sqlite":
        return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0
    return sa.cast(sa.extract("epoch", end - start), sa.Float)


def next_id(model: Any) -> sa.ColumnElement[int]:
    """PostgreSQL: the next value of `model`'s id sequence, taken as the statement runs."""
    table = model.__table__
    sequence = sa.func.pg_get_serial_sequence(table.name, table.c.id.name)
    return sa.func.nextval(sequence, type_=sa.Integer)
