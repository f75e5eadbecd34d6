"""The limiter skips requests no limit applies to, and counts a view's limits in Redis in one
round trip, exactly as Flask-Limiter counts them one at a time (app.web.limit_counting)."""

from __future__ import annotations

import secrets
import shutil
from contextlib import contextmanager

import pytest
import redis
from limits.storage import RedisStorage

from app import create_app
from app.extensions import limiter
from app.web import limit_counting
from tests import test_limits as one_at_a_time
from tests.helpers import BASE_CONFIG, T0, add_listings, csrf_token, submit_form
from tests.test_limits import (  # noqa: F401  (app_overrides: the fixture, fresh counters)
    TEST_REDIS_URL,
    app_overrides,
    from_,
    limited_app,
    limited_apps,
    press_resend,
    status_path,
)

needs_redis = pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL is not set")


def in_redis(settings: dict) -> dict:
    return {**limited_app(settings), "RATELIMIT_STORAGE_URI": TEST_REDIS_URL}


@contextmanager
def round_trips():
    """What the app sends Redis in the block: one item per command (a script is one)."""
    sent: list[bytes] = []
    send = redis.connection.Connection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return send(self, command, check_health)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis.connection.Connection, "send_packed_command", counting)
        yield sent


def post_form(client, email: str, ip: str, **headers):
    page = client.get("/", headers=headers)
    data = {"csrf_token": csrf_token(page.text), "email": email, "ip": ip}
    with round_trips() as sent:
        response = client.post("/", data=data, headers=headers)
    return response, len(sent)


@needs_redis
@pytest.mark.parametrize("app_overrides", [in_redis({})], indirect=True)
def test_a_submission_is_checked_in_one_round_trip_and_its_mail_counted_in_one_more(app, client):
    """Five limits: one at a time they cost three hits and two tests, and two hits after."""
    add_listings(app, "203.0.113.7", "203.0.113.8")
    assert submit_form(client, "first@example.org", "203.0.113.7").status_code == 200  # warm
    with round_trips() as sent:
        assert client.get("/").status_code == 200
    assert sent == []
    response, trips = post_form(client, "second@example.org", "203.0.113.8")
    assert "Check your inbox" in response.text
    assert trips == 2


@needs_redis
@pytest.mark.parametrize("app_overrides", [in_redis({})], indirect=True)
def test_a_submission_that_queues_no_mail_costs_one_round_trip(app, client):
    assert submit_form(client, "first@example.org", "203.0.113.9").status_code == 200  # warm
    response, trips = post_form(client, "second@example.org", "203.0.113.10")
    assert "is not on our list" in response.text
    assert trips == 1


def _settings_of(test) -> dict:
    """The settings a test of test_limits runs with (its one parametrized app_overrides)."""
    (mark,) = [mark for mark in test.pytestmark if mark.name == "parametrize"]
    (settings,) = mark.args[1]
    return settings


COUNTED_IN_MEMORY_ONLY = [
    one_at_a_time.test_one_client_address_is_rate_limited_with_a_friendly_page,
    one_at_a_time.test_one_recipient_is_limited_across_client_addresses,
    one_at_a_time.test_one_target_ip_is_limited_across_senders,
    one_at_a_time.test_global_cap_on_confirmation_mails,
    one_at_a_time.test_bounce_only_submissions_count_against_the_address_the_bounce_names,
    one_at_a_time.test_the_per_ip_limit_counts_an_address_from_a_bounce_like_a_typed_one,
    one_at_a_time.test_the_per_recipient_limit_counts_one_mailbox_however_it_is_written,
]


@needs_redis
@pytest.mark.parametrize(
    ("test", "app_overrides"),
    [
        pytest.param(test, in_redis(_settings_of(test)), id=test.__name__)
        for test in COUNTED_IN_MEMORY_ONLY
    ],
    indirect=["app_overrides"],
)
def test_the_portal_limits_refuse_in_redis_as_they_do_in_memory(test, app, client):
    test(app, client)


FLOOD = {
    "RATE_LIMIT_SUBMIT_PER_ADDRESS": "5 per hour",
    "RATE_LIMIT_SUBMIT_PER_EMAIL": "2 per hour",
    "RATE_LIMIT_SUBMIT_PER_IP": "2 per hour",
    "RATE_LIMIT_CONFIRMATION_MAILS": "5 per hour",
    "RATE_LIMIT_CONFIRMATION_MAILS_PER_CLIENT": "2 per hour",
    "PROXY_COUNT": 1,
}
LISTED = [f"198.51.100.{i}" for i in range(1, 9)]


def a_busy_hour(client) -> list[int]:
    """Submissions refused by each limit in turn, ones that queue no mail, the Find button,
    and a new link asked for from a status page: the statuses of every request sent."""
    submit = [
        ("192.0.2.1", "a@example.org", LISTED[0]),
        ("192.0.2.1", "b@example.org", LISTED[1]),
        ("192.0.2.1", "c@example.org", LISTED[2]),  # the client's mails
        ("192.0.2.2", "a@example.org", LISTED[3]),
        ("192.0.2.2", "A+x@example.org", LISTED[4]),  # the recipient's
    ]
    then = [
        ("192.0.2.3", "d@example.org", "203.0.113.200"),  # not listed: no mail
        ("192.0.2.3", "e@example.org", "203.0.113.200"),
        ("192.0.2.3", "f@example.org", "203.0.113.200"),  # the IP's
        ("192.0.2.4", "g@example.org", LISTED[5]),
        ("192.0.2.5", "h@example.org", LISTED[6]),
        ("192.0.2.6", "i@example.org", LISTED[7]),  # all mails
    ]
    answers = [submit_form(client, email, ip, **from_(address)) for address, email, ip in submit]
    page = client.get("/", headers=from_("192.0.2.7"))
    find = {"csrf_token": csrf_token(page.text), "find": "1", "bounce": f"banned IP [{LISTED[0]}]"}
    answers.append(client.post("/", data=find, headers=from_("192.0.2.7")))
    answers.append(press_resend(client, status_path(answers[0]), "192.0.2.8"))
    answers += [submit_form(client, email, ip, **from_(address)) for address, email, ip in then]
    return [answer.status_code for answer in answers]


def counters() -> dict[str, int]:
    """Every counter in the limiter's storage, by key (without the storage's own prefix)."""
    storage = limiter.storage
    if isinstance(storage, RedisStorage):
        connection = storage.get_connection()
        prefix = storage.prefixed_key("")
        keys = [key.decode() for key in connection.scan_iter(prefix + "*")]
        return {key.removeprefix(prefix): int(connection.get(key)) for key in keys}
    return {key: value for key, value in storage.storage.items() if value}


@needs_redis
def test_redis_counts_what_flask_limiter_counts_one_at_a_time(
    sqlite_template, tmp_path, time_machine
):
    """The same hour in memory (one limit at a time) and in Redis (one round trip)."""
    time_machine.move_to(T0, tick=False)
    in_memory = limited_app(FLOOD)
    storages = {
        "memory": in_memory,
        "redis": {**in_memory, **in_redis({}), "RATELIMIT_STORAGE_OPTIONS": fresh_prefix()},
    }
    runs = {}
    for name, storage in storages.items():
        path = tmp_path / f"{name}.sqlite3"
        shutil.copy(sqlite_template, path)
        app = create_app({**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{path}", **storage})
        add_listings(app, *LISTED)
        runs[name] = (a_busy_hour(app.test_client()), counters())
    statuses, counted = runs["memory"]
    assert statuses == [200, 200, 429, 200, 429, 200, 303, 200, 200, 429, 200, 200, 429]
    assert len(counted) >= 10
    assert runs["redis"] == runs["memory"]


def fresh_prefix() -> dict:
    return {"key_prefix": f"test-{secrets.token_hex(6)}"}


@needs_redis
@pytest.mark.parametrize("app_overrides", [in_redis({})], indirect=True)
def test_when_redis_fails_a_batch_flask_limiter_counts_one_at_a_time(app, client, monkeypatch):
    add_listings(app, "203.0.113.7")

    def fails(self, *, check):
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(limit_counting.Batch, "count", fails)
    page = client.get("/")
    data = {"csrf_token": csrf_token(page.text), "email": "s@example.org", "ip": "203.0.113.7"}
    # The checks are counted one at a time; the mail's deductions fail as Flask-Limiter's do.
    with pytest.raises(redis.ConnectionError):
        client.post("/", data=data)
    counted = counters()
    assert sorted(counted.values()) == [1, 1, 1]
    assert not [key for key in counted if "confirmation-mails" in key]


@pytest.mark.parametrize("app_overrides", [limited_app({})])
def test_a_page_no_limit_applies_to_asks_flask_limiter_nothing(app, client, monkeypatch):
    """Once per endpoint and method Flask-Limiter is asked for its limits; then never again."""
    pages = ["/", "/?ip=203.0.113.7", "/confirm/not-a-token"]
    assert [client.get(page).status_code for page in pages] == [200, 200, 404]

    def asked(*args, **kwargs):
        raise AssertionError("Flask-Limiter was asked about a page no limit applies to")

    # Its before_request hook and the stacked limits' check: neither resolves any limit now.
    monkeypatch.setattr(limiter.limit_manager, "resolve_limits", asked)
    monkeypatch.setattr(limiter, "_check_request_limit", asked)
    assert [client.get(page).status_code for page in pages] == [200, 200, 404]


def test_a_default_limit_still_counts_the_blank_form(tmp_path, limit_on_every_page):
    settings = {**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    app = create_app({**settings, **limited_app(limit_on_every_page)})
    client = app.test_client()
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("app_overrides", [{"RATELIMIT_ENABLED": False}])
def test_with_the_limits_off_a_submission_goes_straight_to_the_view(app, client, monkeypatch):
    def asked(*args, **kwargs):
        raise AssertionError("Flask-Limiter was asked while the limits are off")

    monkeypatch.setattr(limiter, "_check_request_limit", asked)
    add_listings(app, "203.0.113.7")
    assert "Check your inbox" in submit_form(client, "s@example.org", "203.0.113.7").text
