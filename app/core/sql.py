"""SQL written once: what differs between the two databases we run on, and row counts."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db


def insert(model: Any) -> Any:
    """An INSERT for `model` that knows ON CONFLICT, on SQLite and PostgreSQL alike."""
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    return sqlite_insert(model) if sqlite else pg_insert(model)


def rowcount(result: sa.Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched (typed as a Result, it is a CursorResult)."""
    return cast("sa.CursorResult[Any]", result).rowcount
