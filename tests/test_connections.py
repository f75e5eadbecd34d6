"""Pooled PostgreSQL connections: checked after idle time instead of before every use."""

import pytest
import sqlalchemy as sa

from app.core import connections
from app.extensions import db

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def database_url(postgresql_url):
    return postgresql_url


def _backend_of_pooled_connection(app) -> int:
    with app.app_context():
        pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        db.session.remove()  # back to the pool
    return pid


def _terminate(url: str, pid: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        assert connection.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    engine.dispose()


def test_a_connection_back_from_an_idle_spell_is_checked_and_replaced(
    app, database_url, monkeypatch
):
    pid = _backend_of_pooled_connection(app)
    _terminate(database_url, pid)  # as a database restart would
    monkeypatch.setattr(connections, "PING_AFTER_IDLE_SECONDS", 0.0)
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT pg_backend_pid()")) != pid


def test_a_connection_just_returned_is_used_without_a_check(app, monkeypatch):
    monkeypatch.setattr(connections, "PING_AFTER_IDLE_SECONDS", 3600.0)
    _backend_of_pooled_connection(app)
    pings = []
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", lambda *a: pings.append(a[2]))
        db.session.scalar(sa.text("SELECT 42"))
    assert pings == ["SELECT 42"]  # no "SELECT 1" went first


def test_without_the_check_a_dead_connection_fails_one_request_only(app, database_url, monkeypatch):
    """What the check prevents; and SQLAlchemy recovers the pool by itself afterwards."""
    monkeypatch.setattr(connections, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pid = _backend_of_pooled_connection(app)
    _terminate(database_url, pid)
    with app.app_context(), pytest.raises(sa.exc.OperationalError):
        db.session.scalar(sa.text("SELECT 1"))
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT pg_backend_pid()")) != pid
