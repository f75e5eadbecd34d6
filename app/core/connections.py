"""Pooled database connections: SQLite's settings, and a liveness check after idle time.

SQLAlchemy's `pool_pre_ping` checks every connection before every use, which costs
PostgreSQL one more round trip per request. A connection handed back a moment ago
is as alive as it was then, so we check only a connection that sat in the pool for
more than PING_AFTER_IDLE_SECONDS (after a quiet spell, a database restart or a
dropped link). A failed check throws the connection away, and the pool opens a new
one for the same request. A connection that breaks while in use fails that one
request, and SQLAlchemy then replaces every connection in the pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from app.core import transactions

PING_AFTER_IDLE_SECONDS = 2.0
RETURNED_AT = "returned_at"


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _note_return(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
    record.info[RETURNED_AT] = time.monotonic()


def _ping_after_idle(
    engine: sa.Engine,
) -> Callable[[DBAPIConnection, ConnectionPoolEntry, PoolProxiedConnection], None]:
    def check(
        dbapi_connection: DBAPIConnection,
        record: ConnectionPoolEntry,
        _proxy: PoolProxiedConnection,
    ) -> None:
        returned_at = record.info.get(RETURNED_AT)
        if returned_at is not None and time.monotonic() - returned_at <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise sa.exc.DisconnectionError(f"idle connection failed its check: {error}") from error

    return check


def configure(engine: sa.Engine) -> None:
    sa.event.listen(engine, "before_cursor_execute", transactions.begin_before_first_write)
    if engine.dialect.name == "sqlite":
        # Each connection is one file handle; there is no server to lose.
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "checkin", transactions.end_writer_turn_at_checkin)
        return
    sa.event.listen(engine, "checkin", _note_return)
    sa.event.listen(engine, "checkout", _ping_after_idle(engine))
