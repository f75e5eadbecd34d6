"""Transactions that begin at their first write, and rows inserted as one family.

A sender's busiest pages read before they write, and most of them never write. On
PostgreSQL every statement is a round trip, and a transaction adds two (BEGIN, and COMMIT
or ROLLBACK); on SQLite a transaction that began with a read must upgrade to the write
lock, and waits for it while holding its snapshot. `begin_at_first_write` lets a unit of
work read outside a transaction and begins one at its first write; `insert_family` puts
a row and the rows that belong to it in with one statement where the database allows.
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
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
    writes holds it only while it writes. Any statement but a plain SELECT (a write, a
    SAVEPOINT) sends BEGIN first; from there to the commit everything is one transaction,
    as usual, and the view commits or rolls back as usual. Reads before it see each
    committed change as it comes, as READ COMMITTED does anyway, so a unit of work that
    uses this must not rely on row locks taken while reading (no SELECT ... FOR UPDATE).
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


def _reads_only(statement: str) -> bool:
    """A plain SELECT: anything else (a write, a SAVEPOINT, a WITH that may write) is not."""
    return statement.lstrip(" \n\t(")[:6].upper() == "SELECT"


def begin_before_first_write(
    conn: sa.Connection,
    cursor: Any,
    statement: str,
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
    if _reads_only(statement):
        return
    dialect = conn.dialect.name
    if _in_transaction(dialect, cursor.connection):
        return
    if dialect == "sqlite":
        _writers.wait_turn(conn)
    cursor.execute(_BEGIN[dialect])


class _SqliteWriters:
    """Writers of one SQLite database queue for its write lock in the kernel.

    A writer that finds the write lock taken meets SQLite's busy handler, which sleeps 1,
    2, 5, 10, 15, 20, 25 ms and on between tries and wakes to a lock long since free: with
    a few gunicorn workers that adds tens of milliseconds to a request whose write takes
    a fraction of one. So before its BEGIN IMMEDIATE a unit of work (see
    `begin_at_first_write`) takes an exclusive `flock` on a file beside the database, and
    the kernel wakes the next writer the moment it is let go, after the COMMIT or ROLLBACK
    (the session's events, and the pool's check-in in case a connection goes back without
    them). SQLite's own lock still decides who writes: writers that take no turn here (the
    worker, the CLI) are held off by SQLite as before, and a process that dies lets go of
    its turn with it. A thread takes one turn at a time; a second connection of the same
    thread waits on SQLite alone, so a thread never waits for itself.
    """

    def __init__(self) -> None:
        self._held = threading.local()

    def _turns(self) -> list[int]:
        if not hasattr(self._held, "fds"):
            self._held.fds = []
        return self._held.fds

    def wait_turn(self, conn: sa.Connection) -> None:
        turns = self._turns()
        path = conn.engine.url.database
        if turns or not path or path == ":memory:":
            return
        fd = conn.info.get(_TURN_FILE)
        if fd is None:
            fd = conn.info[_TURN_FILE] = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        turns.append(fd)

    def end_turn(self, *_args: object) -> None:
        turns = self._turns()
        while turns:
            fcntl.flock(turns.pop(), fcntl.LOCK_UN)


_TURN_FILE = "delist_sqlite_writer_turn"
_writers = _SqliteWriters()
# After the COMMIT or ROLLBACK has reached SQLite: the session's events fire then.
sa.event.listen(so.Session, "after_commit", _writers.end_turn)
sa.event.listen(so.Session, "after_rollback", _writers.end_turn)


def end_writer_turn_at_checkin(_dbapi_connection: Any, _record: Any) -> None:
    """The pool's check-in hook (app.core.connections): a turn never outlives its connection."""
    _writers.end_turn()


Family = list[tuple[Any, dict[str, Any]]]


def _bound(table: sa.Table, names: tuple[str, ...], prefix: str) -> dict[str, Any]:
    return {name: sa.bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in names}


def _parent_insert(model: Any, parent: Any, names: tuple[str, ...]) -> Any:
    """`parent` with its values bound by name (`p_<column>`), returning its whole row."""
    table = model.__table__
    return parent.values(_bound(table, names, "p_")).returning(*table.c)


@functools.cache
def _parent_statement(model: Any, parent: Any, names: tuple[str, ...]) -> Any:
    """The parent's INSERT alone, its row loaded as a `model` object (from the returned
    columns, not through the ORM's bulk INSERT, which costs more)."""
    return sa.select(model).from_statement(_parent_insert(model, parent, names))


@functools.cache
def _family_statement(
    model: Any,
    parent: Any,
    names: tuple[str, ...],
    children: tuple[tuple[Any, tuple[str, ...]], ...],
) -> Any:
    """The parent's INSERT and each child's as data-modifying CTEs of one statement that
    returns the parent's row (nothing when the parent's INSERT did nothing)."""
    inserted = _parent_insert(model, parent, names).cte("parent")
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
    round trip, atomic on its own (see `alone`), so under `begin_at_first_write` it must be
    the unit of work's last write. Without it (SQLite) the parent goes in first and tells
    its id, then the other rows, in the caller's transaction.
    """
    if next_id is not None:
        columns = {**columns, "id": next_id}
    params = {f"p_{name}": value for name, value in columns.items()}
    if next_id is None:
        statement = _parent_statement(model, parent, tuple(columns))
        created = db.session.scalars(statement, params).first()
        if created is not None:
            connection = db.session.connection()  # Core rows: no ORM session round about
            for child, row in rows_for(created.id):
                connection.execute(sa.insert(child.__table__), row)
        return created
    family = rows_for(next_id)
    for n, (_child, row) in enumerate(family):
        params.update({f"c{n}_{name}": value for name, value in row.items()})
    shape = tuple((child, tuple(row)) for child, row in family)
    statement = _family_statement(model, parent, tuple(columns), shape)
    return db.session.scalars(statement, params).first()
