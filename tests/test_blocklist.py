"""Listing rules and the "listed now?" lookup, on every database."""

import ipaddress
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.core.actor import Actor
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.models import AuditEvent, Listing
from tests.conftest import BASE_CONFIG, T0

DROP_LIST = Path(__file__).parent / "data" / "spamhaus-drop-2015.netset"


def ip(text):
    return ipaddress.ip_address(text)


def add(text, reason="spam", now=T0):
    return blocklist.add_listing(parse_network(text), reason, actor=Actor("test"), now=now).listing


@pytest.mark.usefixtures("ctx")
class TestLookup:
    def test_single_address_is_listed_and_its_neighbour_is_not(self):
        add("203.0.113.7")
        assert blocklist.is_listed_now(ip("203.0.113.7"), T0)
        assert not blocklist.is_listed_now(ip("203.0.113.8"), T0)

    def test_range_covers_every_address_inside_it(self):
        add("192.0.2.0/24")
        assert blocklist.find_listing(ip("192.0.2.0"), T0).network == "192.0.2.0/24"
        assert blocklist.find_listing(ip("192.0.2.255"), T0).network == "192.0.2.0/24"
        assert blocklist.find_listing(ip("192.0.3.0"), T0) is None

    def test_most_specific_listing_wins_for_nested_networks(self):
        add("10.0.0.0/8")
        add("10.1.0.0/16")
        add("10.1.2.3")
        assert blocklist.find_listing(ip("10.1.2.3"), T0).network == "10.1.2.3/32"
        assert blocklist.find_listing(ip("10.1.2.4"), T0).network == "10.1.0.0/16"
        assert blocklist.find_listing(ip("10.2.0.0"), T0).network == "10.0.0.0/8"

    def test_ipv6_addresses_and_ranges(self):
        add("2001:db8::7")
        add("2001:db8:1::/48")
        assert blocklist.is_listed_now(ip("2001:db8::7"), T0)
        assert not blocklist.is_listed_now(ip("2001:db8::8"), T0)
        assert blocklist.find_listing(ip("2001:db8:1:ffff::1"), T0).network == "2001:db8:1::/48"

    def test_ipv4_listing_does_not_match_ipv6_address_with_same_bytes(self):
        add("0.0.0.0/1")  # ::1 has the bytes of 0.0.0.1; listing 0.0.0.0/0 is refused
        assert not blocklist.is_listed_now(ip("::1"), T0)

    def test_real_drop_list_lookups(self):
        lines = [line.split("#")[0].strip() for line in DROP_LIST.read_text().splitlines()]
        networks = [parse_network(line) for line in lines if line]
        assert len(networks) == 683
        for network in networks:
            blocklist.add_listing(network, "Spamhaus DROP", actor=Actor("test"), now=T0)
        assert blocklist.find_listing(ip("1.4.0.1"), T0).network == "1.4.0.0/17"
        assert blocklist.find_listing(ip("1.4.127.255"), T0).network == "1.4.0.0/17"
        assert not blocklist.is_listed_now(ip("1.3.255.255"), T0)
        assert not blocklist.is_listed_now(ip("1.4.128.0"), T0)


@pytest.mark.usefixtures("ctx")
class TestRemoval:
    def test_scheduled_removal_takes_effect_on_time_without_a_worker(self, time_machine):
        listing = add("203.0.113.7")
        request = _scheduled_request(listing)
        effective = blocklist.schedule_removal(
            listing, T0 + timedelta(hours=1), delist_request=request, actor=Actor("test"), now=T0
        )
        db.session.commit()
        assert effective == T0 + timedelta(hours=1)
        assert blocklist.is_listed_now(ip("203.0.113.7"), T0 + timedelta(minutes=59))
        assert not blocklist.is_listed_now(ip("203.0.113.7"), T0 + timedelta(hours=1))

    def test_earlier_scheduled_removal_is_kept(self):
        listing = add("203.0.113.7")
        request = _scheduled_request(listing)
        blocklist.schedule_removal(
            listing, T0 + timedelta(hours=1), delist_request=request, actor=Actor("a"), now=T0
        )
        later = blocklist.schedule_removal(
            listing, T0 + timedelta(hours=5), delist_request=request, actor=Actor("b"), now=T0
        )
        assert later == T0 + timedelta(hours=1)

    def test_finalising_keeps_the_row_as_history(self):
        listing = add("203.0.113.7")
        request = _scheduled_request(listing)
        blocklist.schedule_removal(
            listing, T0 + timedelta(hours=1), delist_request=request, actor=Actor("sender"), now=T0
        )
        assert blocklist.finalise_due_removals(T0 + timedelta(minutes=30)) == 0
        assert blocklist.finalise_due_removals(T0 + timedelta(hours=2)) == 1
        db.session.commit()
        db.session.refresh(listing)
        assert listing.removed_at == T0 + timedelta(hours=1)
        assert listing.removed_by == "sender"
        assert listing.removal_request_id == request.id

    def test_listing_again_after_removal_creates_a_new_row(self):
        first = add("203.0.113.7")
        blocklist.remove_listing(parse_network("203.0.113.7"), actor=Actor("op"), now=T0)
        second = add("203.0.113.7", now=T0 + timedelta(days=1))
        db.session.commit()
        assert first.id != second.id
        assert blocklist.is_listed_now(ip("203.0.113.7"), T0 + timedelta(days=1))
        rows = db.session.scalars(sa.select(Listing).order_by(Listing.id)).all()
        assert [r.removed_at is None for r in rows] == [False, True]

    def test_listing_again_while_a_due_removal_is_unfinalised(self):
        listing = add("203.0.113.7")
        blocklist.schedule_removal(
            listing, T0, delist_request=_scheduled_request(listing), actor=Actor("sender"), now=T0
        )
        result = blocklist.add_listing(
            parse_network("203.0.113.7"), "again", actor=Actor("op"), now=T0 + timedelta(minutes=1)
        )
        db.session.commit()
        assert result.created
        assert (
            blocklist.find_listing(ip("203.0.113.7"), T0 + timedelta(minutes=1)).reason == "again"
        )

    def test_adding_an_active_network_again_changes_nothing(self):
        first = add("192.0.2.0/24")
        result = blocklist.add_listing(parse_network("192.0.2.0/24"), "x", actor=Actor("t"), now=T0)
        assert not result.created
        assert result.listing.id == first.id

    def test_every_change_is_audited(self):
        add("203.0.113.7")
        blocklist.remove_listing(parse_network("203.0.113.7"), actor=Actor("op"), now=T0)
        db.session.commit()
        actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["listing.added", "listing.removed"]


def test_database_refuses_two_active_rows_for_one_network(ctx):
    add("203.0.113.7")
    db.session.add(
        Listing(
            network="203.0.113.7/32",
            version=4,
            prefix_len=32,
            net_start=bytes([203, 0, 113, 7]),
            reason="dup",
            source="manual",
            listed_at=T0,
            listed_by="t",
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()


def test_lookup_uses_the_index(ctx):
    """The probe must be an index search on both databases, never a table scan."""
    for i in range(50):
        add(f"198.51.100.{i}")
    add("192.0.2.0/24")
    db.session.commit()
    statement, parameters = _lookup_sql("198.51.100.7")
    conn = db.session.connection()
    if db.engine.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = " ".join(row[-1] for row in rows)
        assert "USING INDEX" in plan and "net_start=?" in plan  # an exact key search
        assert "SCAN listing" not in plan
    else:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = " ".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
        assert "Index Scan" in plan and "net_start =" in plan  # an exact key search
        assert "Seq Scan" not in plan


def _lookup_sql(address: str):
    """The SQL and parameters find_listing sends to the database."""
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM listing" in statement:
            captured.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        blocklist.find_listing(ip(address), T0)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    return captured[-1]


def _scheduled_request(listing):
    from app.models import DelistRequest

    request = DelistRequest(
        public_id=f"req{listing.id:020d}",
        email="a@example.com",
        ip=listing.network.split("/")[0],
        listing_id=listing.id,
        status="scheduled",
        locale="en",
        created_at=T0,
        removal_effective_at=T0 + timedelta(hours=1),
    )
    db.session.add(request)
    db.session.flush()
    return request


def test_a_prefix_length_added_by_another_process_is_seen_within_the_cache_time(
    app, database_url, monkeypatch
):
    clock = {"now": 1000.0}
    monkeypatch.setattr(blocklist.time, "monotonic", lambda: clock["now"])
    with app.app_context():
        add("203.0.113.7")  # /32 in use, and read by this lookup:
        assert blocklist.find_listing(ip("198.51.100.9"), T0) is None
        db.session.commit()
    # Another process lists a /24, a length this one has not seen.
    other = create_app({**BASE_CONFIG, "DATABASE_URL": database_url})
    with other.app_context():
        add("198.51.100.0/24")
        db.session.commit()
        db.engine.dispose()
    with app.app_context():
        assert blocklist.find_listing(ip("198.51.100.9"), T0) is None  # not yet
        clock["now"] += blocklist.PREFIX_LENS_TTL + 0.1
        assert blocklist.find_listing(ip("198.51.100.9"), T0).network == "198.51.100.0/24"
        add("192.0.2.128/25")  # a length this process adds itself counts at once
        assert blocklist.find_listing(ip("192.0.2.200"), T0).network == "192.0.2.128/25"
