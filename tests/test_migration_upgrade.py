"""Migrations upgrade an existing database with data in it, on every database."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app.extensions import db
from app.listing import totals
from app.models import Listing

LISTED = datetime(2026, 1, 1, tzinfo=UTC)
REMOVED = datetime(2026, 1, 2, tzinfo=UTC)


def test_0002_backfills_changed_at_and_0007_counts_existing_rows(app):
    with app.app_context():
        downgrade(revision="0001")
        listing = sa.table(
            "listing",
            *(
                sa.column(name)
                for name in (
                    "network",
                    "version",
                    "prefix_len",
                    "net_start",
                    "reason",
                    "source",
                    "listed_at",
                    "listed_by",
                    "removed_at",
                )
            ),
        )
        naive = db.engine.dialect.name == "sqlite"

        def stamp(value):
            return value.replace(tzinfo=None) if naive else value

        common = {"version": 4, "reason": "r", "source": "manual", "listed_by": "t"}
        db.session.execute(
            sa.insert(listing),
            [
                {
                    **common,
                    "network": "192.0.2.1/32",
                    "prefix_len": 32,
                    "net_start": bytes([192, 0, 2, 1]),
                    "listed_at": stamp(LISTED),
                    "removed_at": None,
                },
                {
                    **common,
                    "network": "192.0.2.2/32",
                    "prefix_len": 32,
                    "net_start": bytes([192, 0, 2, 2]),
                    "listed_at": stamp(LISTED),
                    "removed_at": stamp(REMOVED),
                },
            ],
        )
        # A request that refers to the listing, and the listing back to it.
        db.session.execute(
            sa.text(
                "INSERT INTO delist_request (public_id, email, ip, listing_id, status, locale,"
                " created_at) VALUES ('request-id-0001', 'a@example.com', '192.0.2.1', 1,"
                " 'scheduled', 'en', :at)"
            ),
            {"at": stamp(LISTED)},
        )
        db.session.execute(sa.text("UPDATE listing SET removal_request_id = 1 WHERE id = 1"))
        db.session.commit()
        upgrade()
        from app.listing import totals as listing_totals
        from app.models import Listing

        rows = db.session.scalars(sa.select(Listing).order_by(Listing.id)).all()
        assert [row.changed_at for row in rows] == [LISTED, REMOVED]
        # 0007 counts the listings not finalised yet, and its triggers keep counting.
        assert listing_totals.unfinalised() == 1
        db.session.execute(sa.update(Listing).values(removed_at=REMOVED))
        assert listing_totals.unfinalised() == 0
        # 0008 kept the request (and the listing's reference to it) through the rebuild.
        from app.models import DelistRequest, RequestStatus

        kept = db.session.scalars(sa.select(DelistRequest)).one()
        assert (kept.public_id, kept.status) == ("request-id-0001", RequestStatus.SCHEDULED)
        assert rows[0].removal_request_id == kept.id


def test_0008_refuses_an_unknown_status_and_downgrades_cleanly(app):
    bad = sa.text(
        "INSERT INTO delist_request (public_id, email, ip, status, locale, created_at)"
        " VALUES ('request-id-0002', 'a@example.com', '192.0.2.3', 'approved', 'en', :at)"
    )
    with app.app_context():
        at = {"at": LISTED.replace(tzinfo=None)}
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(bad, at)
        db.session.rollback()
        downgrade(revision="0007")
        db.session.execute(bad, at)  # no check before 0008
        db.session.execute(sa.text("DELETE FROM delist_request"))
        db.session.commit()
        upgrade()
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("delist_request")))
            == 0
        )


def test_0009_fills_in_the_mailbox_of_mail_already_queued(app):
    with app.app_context():
        downgrade(revision="0008")
        db.session.execute(
            sa.text(
                "INSERT INTO outbox_message (kind, recipient, subject, body_text, body_html,"
                " message_id, status, attempts, next_attempt_at, created_at) VALUES"
                " ('confirmation', :to, 's', 't', 'h', :mid, 'sent', 1, :at, :at)"
            ),
            [
                {"to": to, "mid": f"<{n}@example.net>", "at": LISTED.replace(tzinfo=None)}
                for n, to in enumerate(["Bomb+1@Example.com", "plain@example.org"])
            ],
        )
        db.session.commit()
        upgrade()
        mailboxes = db.session.scalars(
            sa.text("SELECT recipient_mailbox FROM outbox_message ORDER BY id")
        ).all()
        assert mailboxes == ["bomb@example.com", "plain@example.org"]


def _insert_old_listing(last_octet: int) -> None:
    """A listing as the schema before 0011 held it: no expiry, no hits."""
    db.session.execute(
        sa.text(
            "INSERT INTO listing (network, version, prefix_len, net_start, reason, source,"
            " listed_at, listed_by, changed_at) VALUES (:network, 4, 32, :start,"
            " 'old', 'manual', :at, 'cli:root', :at)"
        ),
        {
            "network": f"192.0.2.{last_octet}/32",
            "start": bytes([192, 0, 2, last_octet]),
            "at": LISTED.replace(tzinfo=None),
        },
    )


def test_0011_keeps_existing_listings_permanent_and_the_listing_count(app):
    with app.app_context():
        downgrade(revision="0010")
        _insert_old_listing(7)
        db.session.commit()
        upgrade()
        old = db.session.scalars(sa.select(Listing)).one()
        assert (old.expires_at, old.lifetime_seconds) == (None, None)
        assert old.in_force_at(LISTED + timedelta(days=3650))
        # The count's triggers survived the new columns (SQLite rebuilds no table for them).
        assert totals.unfinalised() == 1
        lapsed = sa.text(
            "INSERT INTO delist_request (public_id, email, ip, status, locale, created_at)"
            " VALUES ('request-id-0003', 'a@example.com', '192.0.2.7', 'lapsed', 'en', :at)"
        )
        db.session.execute(lapsed, {"at": LISTED.replace(tzinfo=None)})
        db.session.commit()
        db.session.execute(sa.text("DELETE FROM delist_request"))
        db.session.execute(sa.text("DELETE FROM listing"))
        db.session.commit()
        downgrade(revision="0010")
        upgrade()


def test_0012_counts_one_hit_for_listings_already_there(app):
    with app.app_context():
        downgrade(revision="0011")
        _insert_old_listing(8)
        db.session.commit()
        upgrade()
        old = db.session.scalars(sa.select(Listing)).one()
        assert (old.hit_count, old.first_seen_at, old.seen_first) == (1, None, LISTED)


def test_0013_adds_api_keys_beside_the_list_and_downgrades_cleanly(app):
    from app.accounts import api_keys
    from app.core.actor import Actor

    with app.app_context():
        downgrade(revision="0012")
        assert "api_key" not in sa.inspect(db.engine).get_table_names()
        _insert_old_listing(9)
        db.session.commit()
        upgrade()
        assert db.session.scalars(sa.select(Listing.network)).all() == ["192.0.2.9/32"]
        assert totals.unfinalised() == 1
        api_key, secret = api_keys.create("feed", ["listings:read"], actor=Actor("t"), now=LISTED)
        db.session.commit()
        assert api_keys.authenticate(secret) == api_key
        db.session.execute(sa.text("DELETE FROM api_key"))
        db.session.commit()
        downgrade(revision="0012")
        assert "api_key" not in sa.inspect(db.engine).get_table_names()
        upgrade()


def test_0015_counts_the_days_of_listings_already_there_and_downgrades_cleanly(app):
    from app.listing import flow

    with app.app_context():
        downgrade(revision="0014")
        _insert_old_listing(10)
        _insert_old_listing(11)
        db.session.execute(
            sa.text("UPDATE listing SET removed_at = :at, removed_by = 'expiry' WHERE id = 2"),
            {"at": REMOVED.replace(tzinfo=None)},
        )
        db.session.commit()
        upgrade()
        figures = flow.daily(LISTED.date(), REMOVED.date())
        assert figures.added == {LISTED.date(): {"manual": 2}}
        assert figures.removed == {REMOVED.date(): {"expiry": 1}}
        _insert_old_listing(12)  # the triggers count from now on
        db.session.commit()
        assert flow.daily(LISTED.date(), LISTED.date()).added == {LISTED.date(): {"manual": 3}}
        db.session.execute(sa.text("DELETE FROM listing"))
        db.session.commit()
        downgrade(revision="0014")
        assert "listing_flow" not in sa.inspect(db.engine).get_table_names()
        _insert_old_listing(13)  # no trigger left behind to write to a table that is gone
        db.session.commit()
        upgrade()
        assert flow.daily(LISTED.date(), LISTED.date()).added == {LISTED.date(): {"manual": 1}}


def test_0016_adds_enforcement_points_that_refuse_an_unknown_kind_and_downgrades_cleanly(app):
    from app.listing import enforcement
    from app.models import EnforcementKind

    with app.app_context():
        downgrade(revision="0015")
        assert "enforcement_point" not in sa.inspect(db.engine).get_table_names()
        _insert_old_listing(9)
        db.session.commit()
        upgrade()
        enforcement.report("mx1:10040", EnforcementKind.POLICY, LISTED, 1, up_since=LISTED)
        db.session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(
                sa.text(
                    "INSERT INTO enforcement_point (name, kind, refreshed_at, up_since, listings) "
                    "VALUES ('x', 'carrier-pigeon', :t, :t, 0)"
                ),
                {"t": LISTED},
            )
        db.session.rollback()
        downgrade(revision="0015")
        assert "enforcement_point" not in sa.inspect(db.engine).get_table_names()
        assert db.session.scalars(sa.select(Listing.network)).all() == ["192.0.2.9/32"]
        upgrade()
