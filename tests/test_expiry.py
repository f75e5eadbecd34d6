"""Listings that end on their own: default lifetimes, repeat offenders, the worker's
record of expiries, requests that lapse with them, and how operators set lifetimes."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.cli import worker
from app.core.actor import Actor
from app.core.errors import Invalid
from app.extensions import db
from app.listing import blocklist, importer, lifetimes
from app.listing.addresses import parse_network
from app.models import AuditEvent, DelistRequest, Listing, RequestStatus
from tests.helpers import T0, page_text, submit_form

DAY = timedelta(days=1)
OPERATOR = Actor("operator:x@example.net")


def add(text="203.0.113.7", now=T0, lifetime=lifetimes.DEFAULT):
    return blocklist.add_listing(
        parse_network(text), "Spam", actor=OPERATOR, now=now, lifetime=lifetime
    ).listing


def end(listing, at):
    """Let the listing reach its end, and the worker record it."""
    finalised = blocklist.finalise_due_listings(at)
    db.session.commit()
    assert listing.removed_at is not None
    return finalised


def test_a_new_listing_lasts_the_default_lifetime(ctx):
    listing = add()
    assert (listing.lifetime_seconds, listing.expires_at) == (7 * 86400, T0 + 7 * DAY)
    assert blocklist.find_listing(parse_network("203.0.113.7")[0], T0 + 7 * DAY) is None
    assert add("203.0.113.8", lifetime=lifetimes.PERMANENT).expires_at is None
    assert add("203.0.113.9", lifetime=lifetimes.Asked(60)).expires_at == T0 + timedelta(seconds=60)


@pytest.mark.parametrize("app_overrides", [{"LISTING_TTL_SECONDS": 0}])
def test_a_default_lifetime_of_zero_means_permanent(ctx):
    assert add().expires_at is None


@pytest.mark.parametrize(
    "app_overrides", [{"LISTING_TTL_SECONDS": 100, "LISTING_MAX_TTL_SECONDS": 350}]
)
def test_a_repeat_offender_is_listed_longer_each_time_up_to_the_longest(ctx):
    now, seen = T0, []
    for _ in range(4):
        listing = add(now=now)
        seen.append(listing.lifetime_seconds)
        now = listing.expires_at
        end(listing, now)
        now += DAY  # listed again a day after the end
    assert seen == [100, 200, 350, 350]


@pytest.mark.parametrize("app_overrides", [{"LISTING_TTL_SECONDS": 100}])
def test_an_offence_forgotten_after_the_memory_starts_again(ctx):
    first = add()
    end(first, first.expires_at)
    assert add(now=first.expires_at + 89 * DAY).lifetime_seconds == 200
    second = blocklist.find_listing(parse_network("203.0.113.7")[0], first.expires_at + 89 * DAY)
    end(second, second.expires_at)
    assert add(now=second.expires_at + 91 * DAY).lifetime_seconds == 100
    # Another network's history counts for nothing; an explicit lifetime is kept as given.
    assert add("203.0.113.70", now=second.expires_at).lifetime_seconds == 100
    assert add("198.51.100.1", lifetime=lifetimes.Asked(30)).lifetime_seconds == 30


def test_an_operator_removal_counts_as_an_offence_ended(ctx):
    listing = add()
    blocklist.remove(listing, actor=OPERATOR, now=T0 + DAY)
    db.session.commit()
    assert add(now=T0 + 2 * DAY).lifetime_seconds == 14 * 86400


def test_asking_for_both_a_lifetime_and_permanent_is_refused():
    with pytest.raises(Invalid, match="not both"):
        lifetimes.Asked(60, permanent=True)
    with pytest.raises(Invalid, match="1 to"):
        lifetimes.Asked(0)


@pytest.fixture
def open_request(app, client):
    """The public id of a pending request for a listing that expires an hour after T0."""
    with app.app_context():
        add(lifetime=lifetimes.Asked(3600))
        db.session.commit()
    submit_form(client, "sender@example.org", "203.0.113.7")
    with app.app_context():
        return db.session.scalar(sa.select(DelistRequest.public_id))


def test_the_worker_records_expiries_as_history_and_closes_their_requests(
    app, client, open_request
):
    public_id = open_request
    with app.app_context():
        before = worker.run_once(T0 + timedelta(minutes=59))
        assert (before.listings_expired, before.removals_finalised) == (0, 0)
    assert "The listing expired on its own" not in page_text(client.get(f"/requests/{public_id}"))
    with app.app_context():
        report = worker.run_once(T0 + timedelta(hours=1))
        assert "listings expired=1" in str(report)
        listing = db.session.scalar(sa.select(Listing))
        assert (listing.removed_at, listing.removed_by) == (T0 + timedelta(hours=1), "expiry")
        delist_request = db.session.scalar(sa.select(DelistRequest))
        assert delist_request.status == RequestStatus.LAPSED
        actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions[-2:] == ["listing.expired", "request.lapsed"]
        assert worker.run_once(T0 + timedelta(hours=2)).listings_expired == 0  # once


def test_the_status_page_says_the_listing_lapsed_before_the_worker_runs(
    client, open_request, time_machine
):
    time_machine.move_to(T0 + timedelta(hours=2), tick=False)
    page = page_text(client.get(f"/requests/{open_request}"))
    assert "The listing expired on its own" in page
    assert "no longer on our list since" in page


def test_senders_are_told_when_a_listing_ends_on_its_own(app, client):
    with app.app_context():
        add()
        add("198.51.100.7", lifetime=lifetimes.PERMANENT)
        db.session.commit()
    page = page_text(client.get("/lookup?ip=203.0.113.7"))
    assert "Ends on its own at Mar 9, 2026, 9:00:00 AM UTC, if we see no more abuse" in page
    assert "Ends on its own" not in page_text(client.get("/lookup?ip=198.51.100.7"))
    body = client.get("/api/v1/lookup/203.0.113.7").get_json()
    assert body["listing"]["expires_at"] == (T0 + 7 * DAY).isoformat()
    japanese = page_text(client.get("/lookup?ip=203.0.113.7", headers={"Accept-Language": "ja"}))
    assert "自動解除の予定日時" in japanese


def test_cli_lifetimes(app, runner):
    result = runner.invoke(
        args=["blocklist", "add", "203.0.113.7", "--reason", "x", "--expires-in", "60"]
    )
    assert result.exit_code == 0, result.output
    assert f"203.0.113.7/32: listed until {(T0 + timedelta(seconds=60)).isoformat()}" in (
        result.output
    )
    result = runner.invoke(args=["blocklist", "add", "203.0.113.8", "--reason", "x", "--permanent"])
    assert "203.0.113.8/32: listed, permanent" in result.output
    both = ["blocklist", "add", "203.0.113.9", "--reason", "x", "--permanent", "--expires-in", "9"]
    result = runner.invoke(args=both)
    assert result.exit_code == 2 and "not both" in result.output
    result = runner.invoke(
        args=["blocklist", "add", "203.0.113.9", "--reason", "x", "--expires-in", "0"]
    )
    assert result.exit_code == 2
    listed = runner.invoke(args=["blocklist", "list"]).output.splitlines()
    assert [line.split("\t")[3] for line in listed] == [
        (T0 + timedelta(seconds=60)).isoformat(),
        "-",
    ]
    checked = runner.invoke(args=["blocklist", "check", "203.0.113.7"]).output
    assert "expires at" in checked


def test_import_lifetimes_per_line_and_per_file(ctx):
    lines = [
        "network,reason,expires_in",
        "203.0.113.1,a,60",
        "203.0.113.2,b,permanent",
        "203.0.113.3,c,",
        "203.0.113.4,d,soon",
    ]
    report = importer.import_listings(
        importer.read_entries(lines),
        reason=None,
        actor=OPERATOR,
        now=T0,
        clock=lambda: T0,
        lifetime=lifetimes.Asked(3600),
    )
    assert report.added == 3
    assert report.rejected == [
        (5, "203.0.113.4", "expires_in 'soon' is not a number of seconds or 'permanent'")
    ]
    db.session.commit()
    lives = dict(db.session.execute(sa.select(Listing.network, Listing.lifetime_seconds)).all())
    assert lives == {"203.0.113.1/32": 60, "203.0.113.2/32": None, "203.0.113.3/32": 3600}


@pytest.mark.parametrize("app_overrides", [{"LISTING_TTL_SECONDS": 100}])
def test_an_import_escalates_repeat_offenders_too(ctx):
    listing = add()
    end(listing, listing.expires_at)
    report = importer.import_listings(
        importer.read_entries(["203.0.113.7", "203.0.113.8"]),
        reason="feed",
        actor=OPERATOR,
        now=listing.expires_at + DAY,
        clock=lambda: T0,
    )
    assert report.added == 2
    rows = db.session.execute(
        sa.select(Listing.network, Listing.lifetime_seconds).where(Listing.removed_at.is_(None))
    )
    assert dict(rows.all()) == {"203.0.113.7/32": 200, "203.0.113.8/32": 100}


def test_admin_lifetimes_on_the_form_and_the_listing_page(app):
    from tests.helpers_admin import post_form, signed_in

    admin = signed_in(app)
    new = "/admin/listings/new"
    response = post_form(admin, new, new, network="203.0.113.7", reason="x", expires_in="90")
    assert response.status_code == 303
    page = page_text(admin.get(response.headers["Location"]))
    assert "Expires Mar 2, 2026, 9:01:30 AM UTC (lifetime 90 seconds)" in page
    assert "expires Mar 2, 2026, 9:01:30 AM UTC" in page  # the state badge
    response = post_form(admin, new, new, network="203.0.113.8", reason="x", permanent="y")
    assert "Expires never (permanent)" in page_text(admin.get(response.headers["Location"]))
    both = post_form(
        admin, new, new, network="203.0.113.9", reason="x", expires_in="60", permanent="y"
    )
    assert both.status_code == 400
    assert "Give a lifetime or make it permanent, not both." in page_text(both)
    zero = post_form(admin, new, new, network="203.0.113.9", reason="x", expires_in="0")
    assert zero.status_code == 400 and 'id="expires_in-error"' in zero.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 2


def test_admin_add_says_what_it_did(app):
    from tests.helpers_admin import post_form, signed_in

    admin = signed_in(app)
    new = "/admin/listings/new"
    for said in ("203.0.113.7/32 is listed.", "203.0.113.7/32 was listed already."):
        response = post_form(admin, new, new, network="203.0.113.7", reason="x")
        assert said in page_text(admin.get(response.headers["Location"]))


def test_a_listing_an_operator_removed_before_its_expiry_did_not_expire(
    app, client, open_request, time_machine
):
    with app.app_context():
        listing = db.session.scalar(sa.select(Listing))
        blocklist.remove(listing, actor=OPERATOR, now=T0 + timedelta(minutes=10))
        db.session.commit()
        assert not listing.expired_by(T0 + timedelta(hours=2))
    time_machine.move_to(T0 + timedelta(hours=2), tick=False)
    page = page_text(client.get(f"/requests/{open_request}"))
    assert "The listing expired on its own" not in page


def test_one_pass_finalises_more_expiries_than_a_batch_holds(ctx, monkeypatch):
    monkeypatch.setattr(worker, "FINALISE_BATCH", 3)
    for n in range(7):
        add(f"203.0.113.{n}", lifetime=lifetimes.Asked(3600))
    add("203.0.113.100", lifetime=lifetimes.Asked(7200))
    report = worker.run_once(T0 + timedelta(hours=1))
    assert (report.listings_expired, report.removals_finalised) == (7, 0)
    ended = db.session.scalars(sa.select(Listing.network).where(Listing.removed_at.is_not(None)))
    assert sorted(ended) == sorted(f"203.0.113.{n}/32" for n in range(7))
