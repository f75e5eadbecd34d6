"""The PostgreSQL server the tests run on: TEST_DATABASE_URL names it and a database on it,
which the tests connect to in order to create (and drop) a database of their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask

from app.extensions import db

MAINTENANCE_DATABASE = "postgres"  # every PostgreSQL server has it


def server_engine(url: str) -> sa.Engine:
    """An AUTOCOMMIT engine on the database `url` names, created first when it is missing."""
    target = sa.make_url(url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(target, isolation_level="AUTOCOMMIT")
    try:
        engine.connect().close()
    except sa.exc.OperationalError as refused:
        maintenance = sa.create_engine(
            target.set(database=MAINTENANCE_DATABASE), isolation_level="AUTOCOMMIT"
        )
        try:
            with maintenance.connect() as conn:
                exists = conn.scalar(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                    {"name": target.database},
                )
                if exists:
                    engine.dispose()
                    raise refused  # the database is there: something else is wrong
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
        finally:
            maintenance.dispose()
    return engine


@contextmanager
def statements_sent(app: Flask) -> Iterator[list[str]]:
    """The SQL statements `app` sends to its database while the block runs, in order."""
    sent: list[str] = []

    def note(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        sent.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
