"""The dashboard's count of active listings: kept by triggers, equal to a full count."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.admin import dashboard
from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.listing import blocklist, importer, row_triggers
from app.listing import totals as listing_totals
from app.listing.addresses import parse_network
from app.models import DelistRequest, Listing, ListingTotals, ListingTotalsChange
from tests.helpers import T0, add_listings
from tests.helpers_admin import signed_in

LATER = T0 + timedelta(hours=2)
FIVE_ROWS = [{"listed_at": T0, "source": "import"}] * 5


def counted(app, now=T0) -> tuple[int, int]:
    """(the dashboard's figure, a full count of the listings in force)."""
    with app.app_context():
        full = db.session.scalar(
            sa.select(sa.func.count()).select_from(Listing).where(Listing.in_force_at(now))
        )
        return dashboard.active_listings(now), full


def test_the_count_follows_every_kind_of_write(app):
    assert counted(app) == (0, 0)
    add_listings(app, "203.0.113.7", "203.0.113.8", "198.51.100.0/24")
    assert counted(app) == (3, 3)

    with app.app_context():  # a sender's removal, scheduled for one hour later
        listing = blocklist.find_listing(parse_network("203.0.113.7").network_address, T0)
        request = DelistRequest(
            public_id="p" * 16,
            email="s@example.com",
            ip="203.0.113.7",
            listing_id=listing.id,
            status="scheduled",
            locale="en",
            created_at=T0,
        )
        db.session.add(request)
        db.session.flush()
        blocklist.schedule_removal(
            listing, T0 + timedelta(hours=1), delist_request=request, actor=Actor("t"), now=T0
        )
        db.session.commit()
    assert counted(app) == (3, 3)
    assert counted(app, LATER) == (2, 2)  # in effect, not finalised yet

    with app.app_context():  # an operator removes one, the worker finalises the other
        blocklist.remove_listing(parse_network("203.0.113.8"), actor=Actor("t"), now=LATER)
        blocklist.finalise_due_listings(LATER)
        db.session.commit()
    assert counted(app, LATER) == (1, 1)

    with app.app_context():  # a bulk import (COPY on PostgreSQL), one line already listed
        lines = ["198.51.100.0/24", *(f"192.0.2.{n}" for n in range(1, 101))]
        report = importer.import_listings(
            importer.read_entries(lines), reason="Spam", actor=Actor("t"), now=LATER, clock=utcnow
        )
        db.session.commit()
        assert (report.added, report.already_listed) == (100, 1)
    assert counted(app, LATER) == (101, 101)

    with app.app_context():  # SQL written by hand counts too
        db.session.execute(sa.delete(Listing).where(Listing.network.like("192.0.2.%")))
        db.session.commit()
    assert counted(app, LATER) == (1, 1)


def test_a_rolled_back_write_leaves_the_count_alone(app):
    add_listings(app, "203.0.113.7")
    with app.app_context():
        blocklist.add_listing(parse_network("203.0.113.9"), "Spam", actor=Actor("t"), now=T0)
        db.session.flush()
        db.session.rollback()
    assert counted(app) == (1, 1)


@pytest.mark.postgresql_only
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_truncate_sets_the_count_to_zero(app):
    add_listings(app, "203.0.113.7", "203.0.113.8")
    with app.app_context():
        db.session.execute(sa.text("TRUNCATE listing CASCADE"))
        db.session.commit()
        assert db.session.scalar(sa.select(ListingTotals.unfinalised)) == 0
        assert db.session.scalars(sa.select(ListingTotalsChange)).all() == []
    assert counted(app) == (0, 0)


@pytest.mark.postgresql_only
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_changes_from_many_statements_are_appended_then_folded_in(app):
    """Thousands of one-row INSERTs in one transaction: each appends its change."""
    with app.app_context():
        for n in range(3000):
            db.session.execute(
                sa.insert(Listing).values(
                    network=f"10.0.{n // 256}.{n % 256}/32",
                    version=4,
                    prefix_len=32,
                    net_start=bytes([10, 0, n // 256, n % 256]),
                    reason="Spam",
                    source="manual",
                    listed_at=T0,
                    listed_by="t",
                    changed_at=T0,
                )
            )
        db.session.commit()
        changes = db.session.scalar(sa.select(sa.func.count()).select_from(ListingTotalsChange))
        assert changes == 3000
    assert counted(app) == (3000, 3000)
    with app.app_context():
        listing_totals.fold_changes()
        db.session.commit()
        assert db.session.scalar(sa.select(ListingTotals.unfinalised)) == 3000
        assert db.session.scalars(sa.select(ListingTotalsChange)).all() == []
    assert counted(app) == (3000, 3000)


def test_the_dashboard_shows_it(app):
    add_listings(app, *(f"203.0.113.{n}" for n in range(1, 13)))
    assert "Active listings</dt><dd>12<" in signed_in(app, "viewer").get("/admin/").text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_sqlite_import_sets_the_row_trigger_aside_only_inside_its_transaction(app):
    def trigger_sql():
        return db.session.scalar(
            sa.text("SELECT sql FROM sqlite_master WHERE name = 'listing_totals_insert'")
        )

    with app.app_context():
        before = trigger_sql()
        assert before
        with (
            pytest.raises(RuntimeError),
            row_triggers.counted_once(db.session.connection(), FIVE_ROWS),
        ):
            assert trigger_sql() is None
            raise RuntimeError("the import fails")
        db.session.rollback()
        assert trigger_sql() == before
        assert db.session.scalar(sa.select(ListingTotals.unfinalised)) == 0

        importer.import_listings(
            importer.read_entries(["192.0.2.1", "192.0.2.2"]),
            reason="Spam",
            actor=Actor("t"),
            now=T0,
            clock=utcnow,
        )
        db.session.commit()
        assert trigger_sql() == before
    add_listings(app, "203.0.113.7")  # counted by the trigger again
    assert counted(app) == (3, 3)
