"""Abuse limits: self-service removals per IP, mails per recipient, request rate limits."""

import os
import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import DelistRequest, OutboxMessage
from tests.helpers import CONFIRM_LINK_RE, T0, add_listings, csrf_token, page_text, submit_form

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def past_self_removals(app, ip, n, days_ago=5):
    with app.app_context():
        for i in range(n):
            db.session.add(
                DelistRequest(
                    public_id=f"past-removal-{days_ago}-{i:04d}",
                    email="old@example.org",
                    ip=ip,
                    status="done",
                    locale="en",
                    created_at=T0 - timedelta(days=days_ago),
                    confirmed_at=T0 - timedelta(days=days_ago),
                    closed_at=T0,
                )
            )
        db.session.commit()


def test_after_the_self_removal_limit_a_request_goes_to_review(app, client):
    add_listings(app, "203.0.113.7")
    past_self_removals(app, "203.0.113.7", 2)
    response = submit_form(client, "sender@example.org", "203.0.113.7")
    assert response.status_code == 200
    text = page_text(response)
    assert "removed by self-service 2 times in the last 30 days" in text
    assert "decision comes by email" in text
    assert count(app, DelistRequest, DelistRequest.status == "needs_review") == 1
    assert count(app, OutboxMessage) == 0


def test_removals_older_than_the_window_do_not_count(app, client):
    add_listings(app, "203.0.113.7")
    past_self_removals(app, "203.0.113.7", 2, days_ago=31)
    assert "Check your inbox" in page_text(submit_form(client, "s@example.org", "203.0.113.7"))


def test_the_delist_page_shows_how_many_self_removals_remain(app, client):
    add_listings(app, "203.0.113.7")
    past_self_removals(app, "203.0.113.7", 1)
    submit_form(client, "sender@example.org", "203.0.113.7")
    with app.app_context():
        body = db.session.scalar(sa.select(OutboxMessage.body_text))
    link = CONFIRM_LINK_RE.search(body).group(0).removeprefix("https://delist.example.test")
    assert "removed by self-service 1 more time in 30 days" in page_text(client.get(link))
    lookup = page_text(client.get("/lookup?ip=203.0.113.7"))
    assert "removed by self-service 1 more time in 30 days" in lookup

    past_self_removals(app, "203.0.113.7", 1, days_ago=6)
    lookup = page_text(client.get("/lookup?ip=203.0.113.7"))
    assert "has used its self-service removals for the last 30 days" in lookup


@pytest.mark.parametrize("app_overrides", [{"MAIL_PER_RECIPIENT_PER_DAY": 3}])
def test_one_address_gets_at_most_the_daily_number_of_mails(app, client):
    ips = [f"198.51.100.{i}" for i in range(1, 6)]
    add_listings(app, *ips)
    statuses = [submit_form(client, "victim@example.org", ip).status_code for ip in ips]
    assert statuses == [200, 200, 200, 429, 429]
    assert count(app, OutboxMessage) == 3
    assert count(app, DelistRequest) == 3
    assert "Too many emails to this address today" in page_text(
        submit_form(app.test_client(), "victim@example.org", "198.51.100.5")
    )


@pytest.mark.parametrize("app_overrides", [{"MAIL_PER_RECIPIENT_PER_DAY": 3}])
def test_one_mailbox_gets_at_most_the_daily_number_of_mails_however_it_is_written(app, client):
    spellings = [
        "Bomb@example.com",
        "bOmb@example.com",
        "BOMB@EXAMPLE.COM",
        "bomb+1@example.com",
        "Bomb+news@Example.com",
    ]
    ips = [f"198.51.100.{i}" for i in range(1, 6)]
    add_listings(app, *ips)
    statuses = [
        submit_form(client, email, ip).status_code for email, ip in zip(spellings, ips, strict=True)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    with app.app_context():
        sent_to = db.session.scalars(sa.select(OutboxMessage.recipient)).all()
    # Each mail goes to the address as typed (the domain normalised, as always).
    assert sorted(to.split("@")[0] for to in sent_to) == sorted(["Bomb", "bOmb", "BOMB"])


def test_a_tag_or_other_case_does_not_skip_the_resend_interval(app, client):
    add_listings(app, "203.0.113.7")
    assert submit_form(client, "bomb@example.com", "203.0.113.7").status_code == 200
    for email in ("BOMB@example.com", "bomb+2@example.com"):
        assert submit_form(client, email, "203.0.113.7").status_code == 429
    assert count(app, OutboxMessage) == 1


def limited_app(app_overrides):
    return {"RATELIMIT_KEY_PREFIX": secrets.token_hex(4), **app_overrides}


@pytest.fixture
def app_overrides(request):
    """Settings parametrized with indirect=True (limited_apps), each run with fresh counters.

    Flask-Limiter keeps the first app's RATELIMIT_KEY_PREFIX for the whole process, so in
    the one Redis server each run gets a storage key prefix of its own instead.
    """
    overrides = dict(getattr(request, "param", {}))
    if overrides.get("RATELIMIT_STORAGE_URI", "").startswith("redis"):
        overrides["RATELIMIT_STORAGE_OPTIONS"] = {"key_prefix": f"test-{secrets.token_hex(6)}"}
    return overrides


def limited_apps(app_overrides):
    """The settings for a limit test, counted in memory and, with TEST_REDIS_URL, in Redis.

    For @pytest.mark.parametrize("app_overrides", ..., indirect=True).
    """
    redis = {"RATELIMIT_STORAGE_URI": TEST_REDIS_URL or "memory://"}
    return [
        pytest.param(limited_app(app_overrides), id="memory"),
        pytest.param(
            limited_app({**app_overrides, **redis}),
            id="redis",
            marks=pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL is not set"),
        ),
    ]


@pytest.mark.parametrize(
    "app_overrides", [limited_app({"RATE_LIMIT_SUBMIT_PER_ADDRESS": "3 per hour"})]
)
def test_one_client_address_is_rate_limited_with_a_friendly_page(app, client):
    add_listings(app, "203.0.113.7")
    statuses = [
        submit_form(client, f"s{i}@example.org", "203.0.113.9").status_code for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    response = submit_form(client, "s@example.org", "203.0.113.9")
    text = page_text(response)
    assert "Please try again within 60 minutes" in text
    assert "per hour" not in text and "3" not in text.split("Please wait")[1][:80]
    assert int(response.headers["Retry-After"]) == 3600


@pytest.mark.parametrize(
    "app_overrides",
    [limited_app({"RATE_LIMIT_SUBMIT_PER_EMAIL": "2 per hour", "PROXY_COUNT": 1})],
)
def test_one_recipient_is_limited_across_client_addresses(app, client):
    statuses = [
        submit_form(
            client, "victim@example.org", "203.0.113.9", **{"X-Forwarded-For": f"198.51.100.{i}"}
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize(
    "app_overrides",
    [limited_app({"RATE_LIMIT_SUBMIT_PER_IP": "2 per hour", "PROXY_COUNT": 1})],
)
def test_one_target_ip_is_limited_across_senders(app, client):
    statuses = [
        submit_form(
            client, f"s{i}@example.org", "[203.0.113.9]", **{"X-Forwarded-For": f"198.51.100.{i}"}
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize(
    "app_overrides",
    [limited_app({"RATE_LIMIT_CONFIRMATION_MAILS": "2 per hour", "PROXY_COUNT": 1})],
)
def test_global_cap_on_confirmation_mails(app, client):
    ips = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    add_listings(app, *ips)
    not_listed = submit_form(
        client, "x@example.org", "203.0.113.200", **{"X-Forwarded-For": "192.0.2.99"}
    )
    assert not_listed.status_code == 200  # sends no mail, so does not count
    statuses = [
        submit_form(
            client, f"s{i}@example.org", ip, **{"X-Forwarded-For": f"192.0.2.{i}"}
        ).status_code
        for i, ip in enumerate(ips)
    ]
    assert statuses == [200, 200, 429]
    assert count(app, OutboxMessage) == 2


@pytest.mark.parametrize(
    "app_overrides", [limited_app({"RATE_LIMIT_CONFIRM_PER_ADDRESS": "2 per hour"})]
)
def test_confirm_posts_are_rate_limited(app, client):
    page = client.get("/confirm/not-a-token")
    token = csrf_token(client.get("/").text)
    codes = [
        client.post("/confirm/not-a-token", data={"csrf_token": token}).status_code
        for _ in range(3)
    ]
    assert page.status_code == 404
    assert codes == [404, 404, 429]


WORKER = """
import json, sys
from app import create_app
from tests.helpers import submit_form
app = create_app(json.loads(sys.argv[1]))
print(json.dumps([submit_form(app.test_client(), "a@example.org", "203.0.113.9").status_code
                  for _ in range(2)]))
"""


def run_worker_process(settings: dict) -> list[int]:
    import json
    import subprocess
    import sys

    import config

    result = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(settings)],
        cwd=config.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL is not set: Redis tests skipped")
def test_rate_limits_are_shared_between_processes_through_redis(database_url):
    """Two processes (as two gunicorn workers or hosts) share their counters in Redis."""
    from tests.helpers import BASE_CONFIG

    settings = {
        **BASE_CONFIG,
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": TEST_REDIS_URL,
        "RATELIMIT_KEY_PREFIX": secrets.token_hex(6),
        "RATE_LIMIT_SUBMIT_PER_ADDRESS": "3 per hour",
    }
    assert run_worker_process(settings) == [200, 200]
    assert run_worker_process(settings) == [200, 429]  # the other process saw the first two


def bounce_only(client, email: str, ip: str, client_address: str):
    """Send the form with the IP field empty and a bounce that names `ip`."""
    page = client.get("/")
    bounce = f"host mx.example.org said: 550 5.7.606 Access denied, banned sending IP [{ip}]."
    data = {"csrf_token": csrf_token(page.text), "email": email, "ip": "", "bounce": bounce}
    return client.post("/", data=data, headers={"X-Forwarded-For": client_address})


@pytest.mark.parametrize("app_overrides", [limited_app({"PROXY_COUNT": 1})])
def test_bounce_only_submissions_count_against_the_address_the_bounce_names(app, client):
    add_listings(app, "203.0.113.7")
    for i in range(25):  # more than RATE_LIMIT_SUBMIT_PER_IP (10 per hour), none listed
        sent = bounce_only(client, f"s{i}@example.org", f"198.51.100.{i + 1}", f"192.0.2.{i}")
        assert sent.status_code == 200, page_text(sent)
    response = bounce_only(client, "new@example.org", "203.0.113.7", "192.0.2.100")
    assert response.status_code == 200
    assert "Check your inbox" in page_text(response)


@pytest.mark.parametrize(
    "app_overrides",
    [limited_app({"RATE_LIMIT_SUBMIT_PER_IP": "2 per hour", "PROXY_COUNT": 1})],
)
def test_the_per_ip_limit_counts_an_address_from_a_bounce_like_a_typed_one(app, client):
    typed = submit_form(client, "a@example.org", "203.0.113.9", **{"X-Forwarded-For": "192.0.2.1"})
    from_bounce = bounce_only(client, "b@example.org", "203.0.113.9", "192.0.2.2")
    third = bounce_only(client, "c@example.org", "203.0.113.9", "192.0.2.3")
    assert [typed.status_code, from_bounce.status_code, third.status_code] == [200, 200, 429]


@pytest.mark.parametrize(
    "app_overrides",
    [limited_app({"RATE_LIMIT_SUBMIT_PER_EMAIL": "2 per hour", "PROXY_COUNT": 1})],
)
def test_the_per_recipient_limit_counts_one_mailbox_however_it_is_written(app, client):
    spellings = ["victim@example.org", "Victim+a@example.org", "VICTIM+b@Example.org"]
    statuses = [
        submit_form(
            client, email, f"203.0.113.{i + 1}", **{"X-Forwarded-For": f"198.51.100.{i}"}
        ).status_code
        for i, email in enumerate(spellings)
    ]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize(
    "app_overrides", limited_apps({"API_RATE_LIMIT": "3 per hour"}), indirect=True
)
def test_the_lookup_page_is_limited_like_the_api_with_a_friendly_page(app, client):
    add_listings(app, "203.0.113.7")
    statuses = [client.get("/lookup?ip=203.0.113.7").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = client.get("/lookup?ip=203.0.113.7")
    assert refused.status_code == 429
    assert "Please try again within 60 minutes" in page_text(refused)
    assert int(refused.headers["Retry-After"]) == 3600
    # One budget for lookups: the API does not give the same client a second one.
    assert client.get("/api/v1/lookup/203.0.113.7").status_code == 429
    assert (
        app.test_client()
        .get("/api/v1/lookup/203.0.113.7", environ_base={"REMOTE_ADDR": "198.51.100.1"})
        .status_code
        == 200
    )


@pytest.mark.parametrize(
    ("address", "client"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("not an address", "not an address"),
    ],
)
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(address, client):
    from app.web.clients import client_network

    assert client_network(address) == client


def from_(address: str) -> dict:
    return {"X-Forwarded-For": address}


@pytest.mark.parametrize(
    "app_overrides",
    limited_apps({"RATE_LIMIT_SUBMIT_PER_ADDRESS": "3 per hour", "PROXY_COUNT": 1}),
    indirect=True,
)
def test_every_address_in_one_ipv6_64_is_one_client(app, client):
    statuses = [
        submit_form(
            client, f"s{i}@example.org", "203.0.113.9", **from_(f"2001:db8:1:2::{i}")
        ).status_code
        for i in range(1, 5)
    ]
    assert statuses == [200, 200, 200, 429]
    other = submit_form(client, "t@example.org", "203.0.113.9", **from_("2001:db8:1:3::1"))
    assert other.status_code == 200


FLOOD = {
    "RATE_LIMIT_CONFIRMATION_MAILS": "5 per hour",
    "RATE_LIMIT_CONFIRMATION_MAILS_PER_CLIENT": "2 per hour",
    "PROXY_COUNT": 1,
}


@pytest.mark.parametrize("app_overrides", limited_apps(FLOOD), indirect=True)
def test_a_flood_from_one_network_leaves_the_mail_budget_to_other_senders(app, client):
    targets = [f"198.51.100.{i}" for i in range(1, 11)]
    add_listings(app, *targets, "203.0.113.7")
    flood = [
        submit_form(client, f"x{i}@example.org", ip, **from_(f"2001:db8:bad:1::{i}")).status_code
        for i, ip in enumerate(targets, 1)
    ]
    assert flood == [200, 200] + [429] * 8
    assert count(app, OutboxMessage) == 2
    sender = submit_form(app.test_client(), "me@example.com", "203.0.113.7", **from_("192.0.2.7"))
    assert sender.status_code == 200
    assert "Check your inbox" in page_text(sender)
    assert count(app, OutboxMessage) == 3


def press_resend(client, status_path: str, address: str):
    page = client.get(status_path, headers=from_(address))
    data = {"csrf_token": csrf_token(page.text)}
    return client.post(f"{status_path}/resend", data=data, headers=from_(address))


def status_path(response) -> str:
    return "/requests/" + response.text.split('href="/requests/', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("app_overrides", limited_apps(FLOOD), indirect=True)
def test_a_new_link_from_the_status_page_counts_as_the_clients_mail(app, client, time_machine):
    add_listings(app, "203.0.113.7")
    path = status_path(submit_form(client, "me@example.com", "203.0.113.7", **from_("192.0.2.7")))
    time_machine.move_to(T0 + timedelta(minutes=6))
    assert press_resend(client, path, "192.0.2.7").status_code == 303
    assert count(app, OutboxMessage) == 2
    time_machine.move_to(T0 + timedelta(minutes=12))
    refused = press_resend(client, path, "192.0.2.7")
    assert refused.status_code == 429
    assert "Please try again within 60 minutes" in page_text(refused)
    assert count(app, OutboxMessage) == 2


@pytest.mark.parametrize(
    "app_overrides",
    limited_apps({"RATE_LIMIT_CONFIRMATION_MAILS": "2 per hour", "PROXY_COUNT": 1}),
    indirect=True,
)
def test_a_new_link_from_the_status_page_counts_toward_all_confirmation_mails(
    app, client, time_machine
):
    add_listings(app, "203.0.113.7", "203.0.113.8")
    path = status_path(submit_form(client, "me@example.com", "203.0.113.7", **from_("192.0.2.7")))
    time_machine.move_to(T0 + timedelta(minutes=6))
    assert press_resend(app.test_client(), path, "192.0.2.8").status_code == 303
    assert count(app, OutboxMessage) == 2
    third = submit_form(app.test_client(), "you@example.com", "203.0.113.8", **from_("192.0.2.9"))
    assert third.status_code == 429
    assert count(app, OutboxMessage) == 2


def test_a_page_view_reads_no_form_for_the_limits_it_is_not_counted_by(client, monkeypatch):
    """The per-recipient and per-IP limits count POSTs; asking them about a GET must not
    build the delist form (it cost a blank form more than the page itself)."""
    from app.portal import limits

    def no_form():
        raise AssertionError("a GET built the delist form for the rate limits")

    monkeypatch.setattr(limits, "sent_delist_form", no_form)
    assert client.get("/").status_code == 200
