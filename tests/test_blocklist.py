"""Listing rules and the "listed now?" lookup, on every database."""

import ipaddress
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.core.actor import Actor
from app.core.errors import Conflict, Invalid, NotAllowed
from app.extensions import db
from app.listing import blocklist, prefixes
from app.listing.addresses import network_key, parse_network
from app.listing.guard import ListingRefused
from app.models import AuditEvent, Listing
from tests.helpers import BASE_CONFIG, T0

DAY = timedelta(days=1)
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
        add("0.0.0.0/8")  # ::1 has the bytes of 0.0.0.1 (0.0.0.0/0 may not be listed)
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
        assert blocklist.finalise_due_listings(T0 + timedelta(minutes=30)).removals == 0
        assert blocklist.finalise_due_listings(T0 + timedelta(hours=2)).removals == 1
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


def _another_request(listing):
    """A second request naming `listing`, for another address (one open request per IP)."""
    from app.models import DelistRequest

    request = DelistRequest(
        public_id=f"other{listing.id:018d}",
        email="b@example.com",
        ip="192.0.2.250",
        listing_id=listing.id,
        status="scheduled",
        locale="en",
        created_at=T0,
    )
    db.session.add(request)
    db.session.flush()
    return request


def test_a_prefix_length_added_by_another_process_is_seen_within_the_cache_time(
    app, database_url, monkeypatch
):
    clock = {"now": 1000.0}
    monkeypatch.setattr(prefixes.time, "monotonic", lambda: clock["now"])
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
        clock["now"] += prefixes.PREFIX_LENS_TTL + 0.1
        assert blocklist.find_listing(ip("198.51.100.9"), T0).network == "198.51.100.0/24"
        add("192.0.2.128/25")  # a length this process adds itself counts at once
        assert blocklist.find_listing(ip("192.0.2.200"), T0).network == "192.0.2.128/25"


def _key(text):
    return network_key(parse_network(text))


def _ended(text, removed_at, lifetime):
    """A listing of `text` that ended at `removed_at` (lifetime None: it was permanent)."""
    network = parse_network(text)
    db.session.add(
        Listing(
            network=str(network),
            **_key(text)._asdict(),
            reason="spam",
            source="manual",
            listed_at=removed_at - DAY,
            listed_by="op",
            changed_at=removed_at,
            removed_at=removed_at,
            removed_by="op",
            lifetime_seconds=lifetime,
        )
    )
    db.session.flush()


def trail():
    """The audit trail, oldest first: (action, actor, listing id, request id, detail, at)."""
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    return [(e.action, e.actor, e.listing_id, e.request_id, e.detail, e.at) for e in events]


LATER = T0 + timedelta(minutes=10)


@pytest.mark.usefixtures("ctx")
class TestAdding:
    def test_a_new_listing_keeps_what_the_operator_gave(self):
        result = blocklist.add_listing(
            parse_network("198.51.100.0/24"),
            "  Snowshoe spam  ",
            actor=Actor("operator:ana@example.net"),
            now=T0,
            source="import",
            notes="trap hits 2026-03-01",
        )
        db.session.commit()
        listing = db.session.get(Listing, result.listing.id)
        assert result.created
        assert (listing.network, listing.version, listing.prefix_len) == ("198.51.100.0/24", 4, 24)
        assert listing.net_start == bytes([198, 51, 100, 0])
        assert (listing.reason, listing.notes, listing.source) == (
            "Snowshoe spam",
            "trap hits 2026-03-01",
            "import",
        )
        assert (listing.listed_at, listing.listed_by, listing.changed_at) == (
            T0,
            "operator:ana@example.net",
            T0,
        )
        assert (listing.removed_at, listing.removal_effective_at) == (None, None)
        # The default lifetime (7 days), and abuse seen once, at the listing time.
        assert (listing.lifetime_seconds, listing.expires_at) == (7 * 86400, T0 + 7 * DAY)
        assert (listing.first_seen_at, listing.last_seen_at) == (T0, T0)

    def test_without_notes_or_source_the_listing_is_manual_and_has_no_notes(self):
        listing = add("203.0.113.7")
        db.session.commit()
        db.session.refresh(listing)
        assert (listing.notes, listing.source) == (None, "manual")

    def test_adding_is_audited_with_the_reason_and_the_listing(self):
        listing = blocklist.add_listing(
            parse_network("203.0.113.7"), " Spam trap ", actor=Actor("cli:root"), now=T0
        ).listing
        db.session.commit()
        assert trail() == [("listing.added", "cli:root", listing.id, None, "Spam trap", T0)]

    def test_adding_an_active_network_again_records_nothing(self):
        first = add("203.0.113.7")
        result = blocklist.add_listing(
            parse_network("203.0.113.7"), "again", actor=Actor("t"), now=LATER
        )
        assert result.created is False and result.listing is first
        assert [event[0] for event in trail()] == ["listing.added"]

    def test_a_refusal_names_the_network(self):
        with pytest.raises(ListingRefused) as refused:
            add("127.0.0.0/8")
        assert str(refused.value).startswith("127.0.0.0/8 contains 127.0.0.1")

    def test_listing_again_after_a_removal_leaves_the_old_row_as_history(self):
        old = add("203.0.113.7")
        blocklist.remove(old, actor=Actor("op"), now=T0 + DAY)
        new = add("203.0.113.7", now=T0 + 2 * DAY)
        assert new.id != old.id
        assert (old.removed_at, old.removed_by, old.changed_at) == (T0 + DAY, "op", T0 + DAY)

    def test_a_repeat_offender_is_listed_for_twice_the_last_lifetime(self):
        first = add("203.0.113.7")
        blocklist.remove(first, actor=Actor("op"), now=T0 + DAY)
        add("203.0.113.8", now=T0 + DAY)  # another network, listed for the first time
        again = add("203.0.113.7", now=T0 + 2 * DAY)
        assert (again.lifetime_seconds, again.expires_at) == (14 * 86400, T0 + 16 * DAY)
        other = blocklist.find_listing(ip("203.0.113.8"), T0 + DAY)
        assert other.lifetime_seconds == 7 * 86400

    def test_previous_lifetimes_keep_the_latest_end_within_the_memory(self):
        memory = timedelta(days=90)
        # The rows are written out of order, as an import may leave them: the latest end wins.
        _ended("203.0.113.1", T0 - DAY, 400)
        _ended("203.0.113.1", T0 - 5 * DAY, 100)
        _ended("203.0.113.2", T0 - memory, 200)  # on the edge of the memory: remembered
        _ended("203.0.113.3", T0 - memory - timedelta(microseconds=1), 300)  # forgotten
        _ended("203.0.113.4", T0 - DAY, None)  # permanent: left out
        add("203.0.113.5")  # in force, not ended
        one, two, four = (_key(f"203.0.113.{n}") for n in (1, 2, 4))
        assert blocklist.previous_lifetimes(None, T0, memory) == {one: 400, two: 200}
        assert blocklist.previous_lifetimes([two, four], T0, memory) == {two: 200}
        assert blocklist.previous_lifetimes([one], T0 + DAY, memory) == {one: 400}

    @pytest.mark.parametrize(
        ("listed", "added"),
        [
            ("10.0.0.0/8", "10.0.0.0/16"),
            ("10.0.0.0/16", "10.0.0.0/8"),
            ("192.0.2.0/24", "192.0.2.0/32"),
            ("0.0.0.0/8", "::/32"),
            ("2001:db8::/32", "2001:db8::/48"),
        ],
    )
    def test_a_network_that_shares_its_start_with_a_listed_one_is_listed_on_its_own(
        self, listed, added
    ):
        first = add(listed)
        result = blocklist.add_listing(parse_network(added), "x", actor=Actor("t"), now=T0)
        db.session.commit()
        assert result.created
        assert result.listing.id != first.id
        assert result.listing.network == str(parse_network(added))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 2

    def test_a_nested_range_is_found_before_the_range_around_it(self):
        add("10.0.0.0/8")
        add("10.0.0.0/16")
        assert blocklist.find_listing(ip("10.0.255.255"), T0).network == "10.0.0.0/16"
        assert blocklist.find_listing(ip("10.1.0.0"), T0).network == "10.0.0.0/8"

    def test_listing_again_while_a_removal_is_due_finalises_the_old_row_first(self):
        old = add("203.0.113.7")
        request = _scheduled_request(old)
        blocklist.schedule_removal(
            old, T0 + timedelta(minutes=5), delist_request=request, actor=Actor("sender"), now=T0
        )
        new = blocklist.add_listing(
            parse_network("203.0.113.7"), "again", actor=Actor("op"), now=LATER
        ).listing
        db.session.commit()
        db.session.refresh(old)
        assert (old.removed_at, old.removed_by, old.changed_at) == (
            T0 + timedelta(minutes=5),
            "sender",
            LATER,
        )
        assert new.id != old.id and new.removed_at is None
        assert [event[:3] for event in trail()[-2:]] == [
            ("removal.effective", "worker", old.id),
            ("listing.added", "op", new.id),
        ]

    @pytest.mark.parametrize(
        ("reason", "message"),
        [
            ("", "a reason is required"),
            (" \t\n", "a reason is required"),
            ("x" * 501, "the reason is too long (at most 500 characters)"),
        ],
    )
    def test_a_missing_or_overlong_reason_is_refused_with_a_message(self, reason, message):
        with pytest.raises(Invalid) as refused:
            blocklist.add_listing(parse_network("203.0.113.7"), reason, actor=Actor("t"), now=T0)
        assert str(refused.value) == message
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0

    def test_a_reason_is_measured_after_trimming(self):
        listing = add("203.0.113.7", reason="  " + "x" * 500 + "  ")
        assert listing.reason == "x" * 500


@pytest.mark.usefixtures("ctx")
class TestRemoving:
    def test_removing_ends_the_listing_now_and_says_who(self):
        listing = add("203.0.113.7")
        removed = blocklist.remove_listing(
            parse_network("203.0.113.7"), actor=Actor("cli:root"), now=LATER
        )
        db.session.commit()
        db.session.refresh(listing)
        assert removed.id == listing.id
        assert (listing.removed_at, listing.removed_by, listing.changed_at) == (
            LATER,
            "cli:root",
            LATER,
        )
        assert not blocklist.is_listed_now(ip("203.0.113.7"), LATER)
        assert trail()[-1] == ("listing.removed", "cli:root", listing.id, None, None, LATER)

    def test_an_operator_removal_records_why(self):
        listing = add("203.0.113.7")
        blocklist.remove(listing, actor=Actor("operator:ana"), now=LATER, why="false positive")
        db.session.commit()
        assert trail()[-1] == (
            "listing.removed",
            "operator:ana",
            listing.id,
            None,
            "false positive",
            LATER,
        )

    def test_a_listing_with_a_removal_still_to_come_can_be_removed_now(self):
        listing = add("203.0.113.7")
        blocklist.schedule_removal(
            listing,
            T0 + timedelta(hours=1),
            delist_request=_scheduled_request(listing),
            actor=Actor("sender"),
            now=T0,
        )
        removed = blocklist.remove_listing(
            parse_network("203.0.113.7"), actor=Actor("op"), now=LATER
        )
        assert removed is not None and removed.removed_at == LATER
        assert not blocklist.is_listed_now(ip("203.0.113.7"), LATER)

    def test_removing_what_is_not_in_force_changes_nothing(self):
        listing = add("203.0.113.7")
        blocklist.schedule_removal(
            listing, T0, delist_request=_scheduled_request(listing), actor=Actor("s"), now=T0
        )
        before = trail()
        assert (
            blocklist.remove_listing(parse_network("203.0.113.7"), actor=Actor("op"), now=LATER)
            is None
        )
        assert (
            blocklist.remove_listing(parse_network("198.51.100.7"), actor=Actor("op"), now=LATER)
            is None
        )
        assert listing.removed_at is None
        assert trail() == before

    def test_removing_a_range_does_not_touch_the_address_it_starts_with(self):
        add("192.0.2.0/24")
        single = add("192.0.2.0")
        assert (
            blocklist.remove_listing(parse_network("192.0.2.0/25"), actor=Actor("op"), now=T0)
            is None
        )
        removed = blocklist.remove_listing(parse_network("192.0.2.0/24"), actor=Actor("op"), now=T0)
        assert removed.network == "192.0.2.0/24"
        assert single.removed_at is None
        assert blocklist.find_listing(ip("192.0.2.0"), T0).id == single.id


@pytest.mark.usefixtures("ctx")
class TestScheduling:
    def schedule(self, listing, effective_at, request=None, actor="sender", now=T0):
        request = request or _scheduled_request(listing)
        effective = blocklist.schedule_removal(
            listing, effective_at, delist_request=request, actor=Actor(actor), now=now
        )
        return effective, request

    def test_scheduling_records_the_time_the_request_and_who_asked(self):
        listing = add("203.0.113.7")
        effective, request = self.schedule(listing, T0 + timedelta(hours=1), now=LATER)
        db.session.commit()
        db.session.refresh(listing)
        assert effective == T0 + timedelta(hours=1)
        assert (
            listing.removal_effective_at,
            listing.removal_request_id,
            listing.removal_scheduled_by,
            listing.changed_at,
        ) == (T0 + timedelta(hours=1), request.id, "sender", LATER)
        assert trail()[-1] == (
            "removal.scheduled",
            "sender",
            listing.id,
            request.id,
            "effective 2026-03-02T10:00:00+00:00",
            LATER,
        )

    def test_an_earlier_time_replaces_a_later_one(self):
        listing = add("203.0.113.7")
        self.schedule(listing, T0 + timedelta(hours=5), actor="a")
        earlier, second = self.schedule(
            listing,
            T0 + timedelta(hours=1),
            request=_another_request(listing),
            actor="b",
            now=LATER,
        )
        db.session.refresh(listing)
        assert earlier == T0 + timedelta(hours=1)
        assert (listing.removal_request_id, listing.removal_scheduled_by, listing.changed_at) == (
            second.id,
            "b",
            LATER,
        )
        assert trail()[-1][-2] == "effective 2026-03-02T10:00:00+00:00"

    def test_a_later_time_leaves_the_earlier_schedule_as_it_was(self):
        listing = add("203.0.113.7")
        _, first = self.schedule(listing, T0 + timedelta(hours=1), actor="a")
        kept, _ = self.schedule(
            listing,
            T0 + timedelta(hours=5),
            request=_another_request(listing),
            actor="b",
            now=LATER,
        )
        db.session.refresh(listing)
        assert kept == T0 + timedelta(hours=1)
        assert (listing.removal_request_id, listing.removal_scheduled_by, listing.changed_at) == (
            first.id,
            "a",
            T0,
        )
        assert trail()[-1][-2] == "effective 2026-03-02T10:00:00+00:00"

    def test_the_same_time_again_keeps_the_first_request(self):
        listing = add("203.0.113.7")
        _, first = self.schedule(listing, T0 + timedelta(hours=1), actor="a")
        self.schedule(
            listing,
            T0 + timedelta(hours=1),
            request=_another_request(listing),
            actor="b",
            now=LATER,
        )
        db.session.refresh(listing)
        assert (listing.removal_request_id, listing.removal_scheduled_by) == (first.id, "a")

    def test_a_removed_listing_cannot_be_scheduled(self):
        listing = add("203.0.113.7")
        request = _scheduled_request(listing)
        blocklist.remove(listing, actor=Actor("op"), now=T0)
        db.session.flush()
        with pytest.raises(Conflict) as refused:
            blocklist.schedule_removal(
                listing, LATER, delist_request=request, actor=Actor("s"), now=T0
            )
        assert str(refused.value) == "203.0.113.7/32 is not listed any more"
        assert listing.removal_effective_at is None
        assert "removal.scheduled" not in [event[0] for event in trail()]

    def test_keeping_a_listing_cancels_its_removal_and_returns_the_request(self):
        listing = add("203.0.113.7")
        _, request = self.schedule(listing, T0 + timedelta(hours=1))
        request_id = blocklist.keep(listing, actor=Actor("operator:ana"), now=LATER, why="abuse")
        db.session.commit()
        db.session.refresh(listing)
        assert request_id == request.id
        assert (
            listing.removal_effective_at,
            listing.removal_request_id,
            listing.removal_scheduled_by,
            listing.changed_at,
        ) == (None, None, None, LATER)
        assert blocklist.is_listed_now(ip("203.0.113.7"), T0 + timedelta(days=6))
        assert trail()[-1] == (
            "removal.cancelled",
            "operator:ana",
            listing.id,
            None,
            "abuse",
            LATER,
        )

    def test_keeping_a_listing_without_a_removal_is_refused(self):
        listing = add("203.0.113.7")
        with pytest.raises(NotAllowed, match="No removal is waiting"):
            blocklist.keep(listing, actor=Actor("op"), now=LATER, why="x")


@pytest.mark.usefixtures("ctx")
class TestFinalising:
    def test_finalising_marks_the_row_and_records_the_worker(self):
        listing = add("203.0.113.7")
        request = _scheduled_request(listing)
        blocklist.schedule_removal(
            listing, T0 + timedelta(hours=1), delist_request=request, actor=Actor("s"), now=T0
        )
        later = T0 + timedelta(hours=3)
        assert blocklist.finalise_due_listings(later).removals == 1
        db.session.commit()
        db.session.refresh(listing)
        assert (listing.removed_at, listing.removed_by, listing.changed_at) == (
            T0 + timedelta(hours=1),
            "s",
            later,
        )
        assert trail()[-1] == ("removal.effective", "worker", listing.id, None, None, later)
        assert blocklist.finalise_due_listings(later).removals == 0

    def test_a_pass_finalises_at_most_its_limit_earliest_first(self):
        due = [add(f"203.0.113.{n}") for n in range(1, 4)]
        for minutes, listing in zip((30, 10, 20), due, strict=True):
            blocklist.schedule_removal(
                listing,
                T0 + timedelta(minutes=minutes),
                delist_request=_scheduled_request(listing),
                actor=Actor("s"),
                now=T0,
            )
        now = T0 + timedelta(hours=1)
        assert blocklist.finalise_due_listings(now, limit=2).removals == 2
        assert [listing.removed_at is not None for listing in due] == [False, True, True]
        assert blocklist.finalise_due_listings(now, limit=2).removals == 1
        assert all(listing.removed_at is not None for listing in due)

    def test_an_expiry_is_recorded_at_the_expiry_time_by_expiry(self):
        listing = add("203.0.113.7")
        later = T0 + 8 * DAY
        assert blocklist.finalise_due_listings(later) == (0, 1)
        db.session.commit()
        db.session.refresh(listing)
        assert (listing.removed_at, listing.removed_by, listing.changed_at) == (
            T0 + 7 * DAY,
            "expiry",
            later,
        )
        assert trail()[-1] == ("listing.expired", "expiry", listing.id, None, None, later)
        assert blocklist.finalise_due_listings(later) == (0, 0)

    def test_a_pass_finalises_a_thousand_by_default(self):
        db.session.execute(
            sa.insert(Listing),
            [
                {
                    "network": f"10.9.{n // 256}.{n % 256}/32",
                    **_key(f"10.9.{n // 256}.{n % 256}")._asdict(),
                    "reason": "spam",
                    "source": "import",
                    "listed_at": T0,
                    "listed_by": "op",
                    "changed_at": T0,
                    "expires_at": T0 + DAY,
                }
                for n in range(1001)
            ],
        )
        assert blocklist.finalise_due_listings(T0 + 2 * DAY) == (0, 1000)
        assert blocklist.finalise_due_listings(T0 + 2 * DAY) == (0, 1)

    def test_operator_removals_and_listings_without_an_end_are_not_touched(self):
        kept = add("203.0.113.1")
        removed = add("203.0.113.2")
        blocklist.remove(removed, actor=Actor("op"), now=T0)
        assert blocklist.finalise_due_listings(T0 + timedelta(days=1)) == (0, 0)
        assert kept.removed_at is None and removed.removed_by == "op"


@pytest.mark.usefixtures("ctx")
class TestActiveListings:
    def test_every_listing_in_force_in_index_order_with_the_columns_asked_for(self):
        for network in (
            "2001:db8::/32",
            "198.51.100.7",
            "192.0.2.9",
            "9.9.9.9",
            "192.0.2.0/24",
            "10.0.0.0/8",
        ):
            add(network, reason=f"because {network}")
        gone = add("203.0.113.1")
        blocklist.remove(gone, actor=Actor("op"), now=T0)
        ending = add("203.0.113.2")
        blocklist.schedule_removal(
            ending,
            T0 + timedelta(hours=1),
            delist_request=_scheduled_request(ending),
            actor=Actor("s"),
            now=T0,
        )
        db.session.commit()
        rows = list(blocklist.active_listings(T0 + timedelta(hours=1), Listing.reason, batch=2))
        # By version, then prefix length, then start: 192.0.2.0/24 before 9.9.9.9/32, and the
        # two /32s by address although 198.51.100.7 was listed first.
        assert [(row.network, row.version, row.reason) for row in rows] == [
            ("10.0.0.0/8", 4, "because 10.0.0.0/8"),
            ("192.0.2.0/24", 4, "because 192.0.2.0/24"),
            ("9.9.9.9/32", 4, "because 9.9.9.9"),
            ("192.0.2.9/32", 4, "because 192.0.2.9"),
            ("198.51.100.7/32", 4, "because 198.51.100.7"),
            ("2001:db8::/32", 6, "because 2001:db8::/32"),
        ]
        before_end = blocklist.active_listings(T0 + timedelta(minutes=59))
        assert "203.0.113.2/32" in [row.network for row in before_end]


@pytest.mark.usefixtures("ctx")
class TestListingAgain:
    def test_an_ended_listing_is_listed_again_as_a_new_row_that_says_where_it_came_from(self):
        old = add("203.0.113.7")
        blocklist.remove(old, actor=Actor("op"), now=T0)
        result = blocklist.list_again(old, "seen again", actor=Actor("operator:ana"), now=LATER)
        assert result.created and result.listing.id != old.id
        new = result.listing
        assert (new.network, new.reason, new.listed_by, new.listed_at) == (
            "203.0.113.7/32",
            "seen again",
            "operator:ana",
            LATER,
        )
        assert new.notes == f"listed again after listing #{old.id}"
        assert trail()[-1][:3] == ("listing.added", "operator:ana", new.id)

    def test_a_network_still_listed_is_not_listed_twice(self):
        old = add("203.0.113.7")
        result = blocklist.list_again(old, "again", actor=Actor("op"), now=LATER)
        assert (result.created, result.listing.id) == (False, old.id)

    def test_removing_and_keeping_say_why_they_refuse(self):
        listing = add("203.0.113.7")
        with pytest.raises(NotAllowed) as refused:
            blocklist.keep(listing, actor=Actor("op"), now=LATER, why="x")
        assert str(refused.value) == "No removal is waiting; nothing was changed."
        blocklist.remove(listing, actor=Actor("op"), now=T0)
        with pytest.raises(NotAllowed) as refused:
            blocklist.remove(listing, actor=Actor("op"), now=LATER)
        assert str(refused.value) == "This listing is not in force; nothing was changed."
