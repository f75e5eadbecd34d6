"""Keyset pagination, newest first: fast on any page, however deep."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: int | None


def newest_first(
    statement: sa.Select,
    id_column: so.InstrumentedAttribute[int],
    after: int | None,
    size: int = PAGE_SIZE,
) -> Page:
    """The page after the row with id `after` (ids descending), and the next cursor."""
    if after is not None:
        statement = statement.where(id_column < after)
    rows = list(db.session.scalars(statement.order_by(id_column.desc()).limit(size + 1)))
    next_cursor = getattr(rows[size - 1], "id", None) if len(rows) > size else None
    return Page(rows[:size], next_cursor)


def newest_in_status(
    model: type[Any], status: str, statuses: Collection[str], after: int | None
) -> Page:
    """Rows of `model` newest first, only those in `status` when it is one of `statuses`."""
    statement = sa.select(model)
    if status in statuses:
        statement = statement.where(model.status == status)
    return newest_first(statement, model.id, after)
