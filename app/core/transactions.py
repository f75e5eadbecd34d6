"""Transactions that begin at their first write, and rows inserted as one family.

A sender's busiest pages read before they write, and most of them never write. On
PostgreSQL every statement is a round trip, and a transaction adds two (BEGIN, and COMMIT
or ROLLBACK); on SQLite a transaction that began with a read must upgrade to the write
lock, and waits for it while holding its snapshot. `begin_at_first_write` lets a unit of
work read outside a transaction and begins one at its first write; `insert_family` puts
a row and the rows that belong to it in with one statement where the database allows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from psycopg.pq import TransactionStatus

from app.extensions import db

# A unit of work that reads before it writes (a submission, the confirm page) need not
# pay for a transaction while it only reads: see `begin_at_first_write`.
_BEGIN_AT_FIRST_WRITE = "delist_begin_at_first_write"
# A statement that is atomic on its own (one INSERT, or one statement with data-modifying
# CTEs on PostgreSQL) and may run before any transaction began: see `alone`.
_ALONE = "delist_atomic_alone"
_BEGIN = {"sqlite": "BEGIN IMMEDIATE", "postgresql": "BEGIN"}


def begin_at_first_write() -> None:
    """Let this unit of work read outside a transaction, and begin one at its first write.

    Call it before the session's first statement. On PostgreSQL a read then costs one
    round trip instead of three (BEGIN, the read, and COMMIT or ROLLBACK); on SQLite the
    first write takes the write lock at once (BEGIN IMMEDIATE), so a transaction that
    writes holds it only while it writes. The first INSERT, UPDATE or DELETE sends BEGIN;
    from there to the commit everything is one transaction, as usual, and the view
    commits or rolls back as usual. Reads before it see each committed change as it
    comes, as READ COMMITTED does anyway, so a unit of work that uses this must not rely
    on row locks taken while reading (no SELECT ... FOR UPDATE).
    """
    db.session.connection(
        execution_options={"isolation_level": "AUTOCOMMIT", _BEGIN_AT_FIRST_WRITE: True}
    )


def alone(statement: Any) -> Any:
    """`statement`, marked atomic on its own: under `begin_at_first_write` it needs no BEGIN
    when it is the unit of work's only write (one round trip on PostgreSQL)."""
    return statement.execution_options(**{_ALONE: True})


def _in_transaction(dialect: str, dbapi_connection: Any) -> bool:
    if dialect == "sqlite":
        return bool(dbapi_connection.in_transaction)
    return bool(dbapi_connection.info.transaction_status != TransactionStatus.IDLE)


def begin_before_first_write(
    conn: sa.Connection,
    cursor: Any,
    _statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,
) -> None:
    """The engine's hook (app.core.connections) that carries out `begin_at_first_write`."""
    if context is None:
        return
    options = context.execution_options
    if not options.get(_BEGIN_AT_FIRST_WRITE) or options.get(_ALONE):
        return
    if not (context.isinsert or context.isupdate or context.isdelete):
        return
    dialect = conn.dialect.name
    if not _in_transaction(dialect, cursor.connection):
        cursor.execute(_BEGIN[dialect])


Family = list[tuple[Any, dict[str, Any]]]


def _bound(table: sa.Table, names: tuple[str, ...], prefix: str) -> dict[str, Any]:
    return {name: sa.bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in names}


@functools.cache
def _parent_alone(model: Any, parent: Any, names: tuple[str, ...]) -> Any:
    """`parent` with its values bound by name and its row returned as a `model` object
    (loaded from the returned columns, not through the ORM's bulk INSERT, which costs more)."""
    table = model.__table__
    inserting = parent.values(_bound(table, names, "p_")).returning(*table.c)
    return sa.select(model).from_statement(inserting)


@functools.cache
def _family_statement(
    model: Any,
    parent: Any,
    names: tuple[str, ...],
    children: tuple[tuple[Any, tuple[str, ...]], ...],
) -> Any:
    """The parent's INSERT and each child's as data-modifying CTEs of one statement that
    returns the parent's row (nothing when the parent's INSERT did nothing)."""
    table = model.__table__
    inserted = parent.values(_bound(table, names, "p_")).returning(*table.c).cte("parent")
    ctes = []
    for n, (child, child_names) in enumerate(children):
        row = _bound(child.__table__, child_names, f"c{n}_")
        values = sa.select(*row.values()).select_from(inserted)
        ctes.append(sa.insert(child).from_select(list(row), values).cte(f"child_{n}"))
    statement = sa.select(inserted).add_cte(*ctes)
    return alone(sa.select(model).from_statement(statement))


def insert_family(
    model: Any,
    parent: Any,
    columns: dict[str, Any],
    next_id: int | None,
    rows_for: Callable[[int], Family],
) -> Any | None:
    """Insert a parent row and the rows that belong to it; return the parent as a `model`
    object, or None when its INSERT did nothing (and so nothing else went in).

    `parent` is an INSERT of `model` without values that may do nothing ON CONFLICT, the
    same object on every call (statements are built once per shape and cached); `columns`
    are the parent's values, and `rows_for(its id)` gives the other rows as (model,
    columns) pairs. With `next_id` (on PostgreSQL, taken beforehand: see `next_id`)
    everything is one statement, each child inserted only if the parent went in: one
    round trip, atomic on its own (see `alone`). Without it (SQLite) the parent goes in
    first and tells its id, then the other rows, in the caller's transaction.
    """
    if next_id is None:
        names = tuple(columns)
        params = {f"p_{name}": value for name, value in columns.items()}
        created = db.session.scalars(_parent_alone(model, parent, names), params).first()
        if created is not None:
            for child, row in rows_for(created.id):
                db.session.execute(sa.insert(child.__table__), row)
        return created
    columns = {**columns, "id": next_id}
    family = rows_for(next_id)
    shape = tuple((child, tuple(row)) for child, row in family)
    params = {f"p_{name}": value for name, value in columns.items()}
    for n, (_child, row) in enumerate(family):
        params.update({f"c{n}_{name}": value for name, value in row.items()})
    statement = _family_statement(model, parent, tuple(columns), shape)
    return db.session.scalars(statement, params).first()
