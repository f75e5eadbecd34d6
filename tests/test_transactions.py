"""Reads before the first write need no transaction; the writes are one, on both databases."""

from __future__ import annotations

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
