"""Reads before the first write need no transaction; the writes are one, on both databases."""

from __future__ import annotations

import fcntl
import threading
import time

import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus

from app.core import audit, sql, transactions
from app.extensions import db
from app.models import AuditEvent, DelistRequest, Listing
from tests.helpers import T0
from tests.helpers_delisting import SENDER


def _in_transaction(app) -> bool:
    raw = db.session.connection().connection.driver_connection
    if db.engine.dialect.name == "sqlite":
        return raw.in_transaction
    return raw.info.transaction_status != TransactionStatus.IDLE


def _event(n: int) -> dict:
    return audit.row("test.write", actor=SENDER, now=T0, detail=str(n))


def _events() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def test_reads_open_no_transaction_and_the_first_write_does(app):
    with app.app_context():
        transactions.begin_at_first_write()
        db.session.scalar(sa.select(sa.func.count()).select_from(Listing))
        assert not _in_transaction(app)
        db.session.execute(sa.insert(AuditEvent), _event(1))
        assert _in_transaction(app)
        db.session.execute(sa.insert(AuditEvent), _event(2))
        db.session.rollback()  # both writes were one transaction: both go
        assert _events() == 0
        db.session.remove()


def test_the_writes_commit_together(app):
    with app.app_context():
        transactions.begin_at_first_write()
        db.session.execute(sa.insert(AuditEvent), _event(1))
        db.session.execute(sa.insert(AuditEvent), _event(2))
        db.session.commit()
        assert _events() == 2
        db.session.remove()


def test_without_it_a_unit_of_work_is_a_transaction_from_its_first_read_on_postgresql(app):
    with app.app_context():
        db.session.scalar(sa.select(sa.func.count()).select_from(Listing))
        assert _in_transaction(app) is (db.engine.dialect.name == "postgresql")
        db.session.remove()


def _family(app, next_id_of_parent: bool, child_listing_id: int):
    """A request inserted with one audit event that names `child_listing_id`."""
    columns = {
        "public_id": "p1",
        "email": "s@example.com",
        "ip": "203.0.113.7",
        "status": "pending",
        "locale": "en",
        "created_at": T0,
    }
    parent = sql.insert(DelistRequest).on_conflict_do_nothing(index_elements=["public_id"])
    next_id = None
    if next_id_of_parent and db.engine.dialect.name == "postgresql":
        next_id = db.session.scalar(sa.select(sql.next_id(DelistRequest)))

    def rows_for(request_id):
        row = audit.row("test.child", actor=SENDER, now=T0, request_id=request_id)
        return [(AuditEvent, {**row, "listing_id": child_listing_id})]

    return transactions.insert_family(DelistRequest, parent, columns, next_id, rows_for)


@pytest.mark.parametrize("next_id", [True, False])
def test_a_family_goes_in_whole_or_not_at_all(app, next_id):
    with app.app_context():
        transactions.begin_at_first_write()
        created = _family(app, next_id, child_listing_id=None)
        db.session.commit()
        assert created.public_id == "p1"
        assert db.session.scalar(sa.select(AuditEvent.request_id)) == created.id
        # The same parent again does nothing ON CONFLICT, and so neither does its child.
        assert _family(app, next_id, child_listing_id=None) is None
        db.session.commit()
        assert _events() == 1
        db.session.remove()


@pytest.mark.parametrize("next_id", [True, False])
def test_a_child_that_fails_takes_its_parent_with_it(app, next_id):
    with app.app_context():
        transactions.begin_at_first_write()
        with pytest.raises(sa.exc.IntegrityError):
            _family(app, next_id, child_listing_id=999_999)  # no such listing
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DelistRequest)) == 0
        db.session.remove()


def _no_busy_wait(app) -> None:
    """SQLite fails at once with "database is locked" where it would wait for the lock."""
    with app.app_context():
        db.engine.dispose()
        sa.event.listen(
            db.engine, "connect", lambda raw, _record: raw.execute("PRAGMA busy_timeout = 0")
        )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_sqlite_writers_wait_their_turn_instead_of_finding_the_database_locked(app, ending):
    """With SQLite's busy wait off, a second writer would fail at once ("database is
    locked"); it waits for its turn instead, and writes once the first has ended."""
    _no_busy_wait(app)
    first_wrote, order, errors = threading.Event(), [], []

    def first():
        with app.app_context():
            transactions.begin_at_first_write()
            db.session.execute(sa.insert(AuditEvent), _event(1))
            first_wrote.set()
            time.sleep(0.3)
            order.append("first ended")
            getattr(db.session, ending)()
            db.session.remove()

    def second():
        first_wrote.wait(5)
        with app.app_context():
            transactions.begin_at_first_write()
            try:
                db.session.execute(sa.insert(AuditEvent), _event(2))
                order.append("second wrote")
                db.session.commit()
            except sa.exc.OperationalError as error:
                errors.append(error)
            db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert order == ["first ended", "second wrote"]
    with app.app_context():
        assert _events() == (2 if ending == "commit" else 1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_turn_ends_when_its_connection_goes_back_to_the_pool(app):
    with app.app_context():
        transactions.begin_at_first_write()
        db.session.execute(sa.insert(AuditEvent), _event(1))
        connection = db.session.connection()
        fd = connection.info["delist_sqlite_writer_turn"]
        path = db.engine.url.database + "-writers"
        db.session.close()  # rolled back and checked in
    with open(path) as other:  # another open file: a lock still held would refuse it
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert fd


def test_a_savepoint_begins_the_transaction_it_needs(app):
    """The proof of work is spent in a savepoint: PostgreSQL has none outside a transaction."""
    with app.app_context():
        transactions.begin_at_first_write()
        with db.session.begin_nested():
            db.session.execute(sa.insert(AuditEvent), _event(1))
        assert _in_transaction(app)
        db.session.commit()
        assert _events() == 1
        db.session.remove()
