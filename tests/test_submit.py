"""POST / : validation, outcomes, and one open request per IP."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.actor import Actor
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.models import AuditEvent, DelistRequest, OutboxMessage
from tests.helpers import T0, csrf_token, page_text, run_at_once, submit_form


@pytest.fixture
def listed(app):
    """The demo listings: three single addresses and one range."""
    with app.app_context():
        for text in ("203.0.113.7", "198.51.100.7", "2001:db8::7", "192.0.2.0/24"):
            blocklist.add_listing(parse_network(text), "Spam reports", actor=Actor("test"), now=T0)
        db.session.commit()


def rows(app, model):
    with app.app_context():
        return db.session.scalars(sa.select(model).order_by(model.id)).all()


def test_form_has_one_email_and_one_ip_field_with_csrf(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.text.count('name="email"') == 1
    assert page.text.count('name="ip"') == 1
    assert csrf_token(page.text)
    text = page_text(page)
    assert "550 5.7.606 Access denied, banned sending IP" in text
    assert "blocked-senders list" in text


def test_post_without_csrf_token_is_refused_and_keeps_the_input(client, listed, app):
    response = client.post("/", data={"email": "a@example.com", "ip": "203.0.113.7"})
    assert response.status_code == 400
    assert "This form has expired" in page_text(response)
    assert 'value="a@example.com"' in response.text
    assert rows(app, DelistRequest) == []


@pytest.mark.parametrize(
    ("email", "ip", "field", "message"),
    [
        ("", "203.0.113.7", "email", "Enter the email address"),
        ("not-an-address", "203.0.113.7", "email", "must have an @-sign"),
        ("a@example.com\r\nBcc: victim@example.org", "203.0.113.7", "email", "on one line"),
        ("a@example.com\nBcc: b@example.org", "203.0.113.7", "email", "on one line"),
        ("a" * 250 + "@example.com", "203.0.113.7", "email", "too long"),
        ("a@exa mple.com", "203.0.113.7", "email", "not valid"),
        ("a@example.com", "", "ip", "Enter the IP address"),
        ("a@example.com", "203.0.113.0/24", "ip", "not a range"),
        ("a@example.com", "203.0.113.7,198.51.100.7", "ip", "one IP address only"),
        ("a@example.com", "mail.example.com", "ip", "not a host name"),
        ("a@example.com", "1" * 200, "ip", "one IP address only"),
        ("a@example.com", "999.1.1.1", "ip", "not a host name"),
    ],
)
def test_invalid_input_gets_400_and_a_message_next_to_the_field(
    client, app, listed, email, ip, field, message
):
    response = submit_form(client, email, ip)
    assert response.status_code == 400
    error = response.text.split(f'id="{field}-error"', 1)
    assert len(error) == 2, f"no error next to {field}"
    assert message in error[1].split("</p>", 1)[0]
    assert f'aria-describedby="{field}-hint {field}-error"' in response.text
    assert rows(app, DelistRequest) == []
    assert rows(app, OutboxMessage) == []


def test_rejected_form_keeps_what_the_sender_typed(client, listed):
    response = submit_form(client, "a@example.com", "203.0.113.0/24")
    assert 'value="a@example.com"' in response.text
    assert 'value="203.0.113.0/24"' in response.text


@pytest.mark.parametrize(
    ("ip", "message"),
    [
        ("10.0.0.1", "private address"),
        ("127.0.0.1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
    ],
)
@pytest.mark.parametrize("app_overrides", [{"DELIST_ALLOW_NON_GLOBAL_IPS": False}])
def test_non_public_addresses_are_refused_with_an_explanation(client, app, ip, message):
    response = submit_form(client, "a@example.com", ip)
    assert response.status_code == 400
    assert message in page_text(response)
    assert rows(app, DelistRequest) == []


def test_address_that_is_not_listed_says_so_and_sends_nothing(client, app, listed):
    response = submit_form(client, "a@example.com", "198.51.100.8")
    assert response.status_code == 200
    text = page_text(response)
    assert "198.51.100.8 is not on our list" in text
    assert "square brackets in the bounce" in text
    assert rows(app, DelistRequest) == []
    assert rows(app, OutboxMessage) == []


def test_listed_address_opens_a_pending_request_and_queues_the_mail(client, app, listed):
    response = submit_form(client, "Sender@Example.com", "203.0.113.7")
    assert response.status_code == 200
    assert "Check your inbox" in page_text(response)
    [request] = rows(app, DelistRequest)
    [message] = rows(app, OutboxMessage)
    assert (request.status, request.ip, request.email) == (
        "pending",
        "203.0.113.7",
        "Sender@example.com",
    )
    assert request.expires_at == T0 + timedelta(days=1)
    assert message.request_id == request.id and message.status == "queued"
    assert message.recipient == "Sender@example.com"
    assert f"/requests/{request.public_id}" in response.text


def test_ipv6_address_is_normalised_before_lookup(client, app, listed):
    response = submit_form(client, "a@example.com", "2001:0DB8:0000::0007")
    assert "Check your inbox" in page_text(response)
    assert rows(app, DelistRequest)[0].ip == "2001:db8::7"


def test_address_listed_only_through_a_range_goes_to_operator_review(client, app, listed):
    response = submit_form(client, "a@example.com", "192.0.2.55")
    assert response.status_code == 200
    text = page_text(response)
    assert "part of the range 192.0.2.0/24" in text
    assert "operators" in text
    [request] = rows(app, DelistRequest)
    assert request.status == "needs_review"
    assert rows(app, OutboxMessage) == []


def test_second_submission_for_the_same_address_reuses_the_open_request(client, app, listed):
    submit_form(client, "a@example.com", "203.0.113.7")
    again = submit_form(client, "a@example.com", "203.0.113.7")
    assert again.status_code == 429
    assert int(again.headers["Retry-After"]) == 300
    assert "sent to a@example.com only minutes ago" in page_text(again)
    assert len(rows(app, DelistRequest)) == 1
    assert len(rows(app, OutboxMessage)) == 1


def test_same_address_gets_a_new_link_after_the_resend_interval(client, app, listed, time_machine):
    submit_form(client, "a@example.com", "203.0.113.7")
    time_machine.move_to(T0 + timedelta(minutes=5))
    again = submit_form(client, "a@example.com", "203.0.113.7")
    assert again.status_code == 200
    assert len(rows(app, DelistRequest)) == 1
    assert len(rows(app, OutboxMessage)) == 2


def test_a_corrected_email_address_takes_over_the_pending_request(client, app, listed):
    submit_form(client, "typo@exmaple.com", "203.0.113.7")
    response = submit_form(client, "right@example.com", "203.0.113.7")
    assert "Check your inbox" in page_text(response)
    [request] = rows(app, DelistRequest)
    assert request.email == "right@example.com"
    assert [m.recipient for m in rows(app, OutboxMessage)] == [
        "typo@exmaple.com",
        "right@example.com",
    ]
    actions = [e.action for e in rows(app, AuditEvent)]
    assert "request.recipient_changed" in actions


def test_expired_pending_request_is_replaced_by_a_new_one(client, app, listed, time_machine):
    submit_form(client, "a@example.com", "203.0.113.7")
    time_machine.move_to(T0 + timedelta(days=1, minutes=1))
    response = submit_form(client, "a@example.com", "203.0.113.7")
    assert "Check your inbox" in page_text(response)
    assert [r.status for r in rows(app, DelistRequest)] == ["expired", "pending"]


def test_database_refuses_a_second_open_request_for_one_ip(ctx):
    def request(public_id):
        return DelistRequest(
            public_id=public_id,
            email="a@example.com",
            ip="203.0.113.7",
            status="pending",
            locale="en",
            created_at=T0,
        )

    db.session.add(request("first-request-id"))
    db.session.flush()
    db.session.add(request("second-request-id"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()


def test_closed_requests_do_not_block_a_new_one(ctx):
    for n, status in enumerate(["expired", "done", "pending"]):
        db.session.add(
            DelistRequest(
                public_id=f"request-id-{n:04d}",
                email="a@example.com",
                ip="203.0.113.7",
                status=status,
                locale="en",
                created_at=T0,
            )
        )
    db.session.flush()


def test_submission_is_audited_with_the_client_address(client, app, listed):
    submit_form(client, "a@example.com", "203.0.113.7")
    [event] = [e for e in rows(app, AuditEvent) if e.action == "request.submitted"]
    assert event.actor == "sender"
    assert event.client_address == "127.0.0.1"


def test_concurrent_submissions_for_one_ip_open_one_request_and_send_one_mail(app, listed):
    clients = [app.test_client() for _ in range(4)]
    pages = [c.get("/") for c in clients]

    def send(c, page):
        data = {"csrf_token": csrf_token(page.text), "email": "a@example.com", "ip": "203.0.113.7"}
        return c.post("/", data=data).status_code

    statuses = run_at_once(send, list(zip(clients, pages, strict=True)))
    assert sorted(statuses) == [200, 429, 429, 429]
    assert len(rows(app, DelistRequest)) == 1
    assert len(rows(app, OutboxMessage)) == 1


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(ctx):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    conn = db.session.connection()
    assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000


def test_a_filled_honeypot_field_is_refused_and_stores_nothing(client, app, listed):
    page = client.get("/")
    assert 'class="hp" aria-hidden="true"' in page.text
    response = client.post(
        "/",
        data={
            "csrf_token": csrf_token(page.text),
            "email": "bot@example.com",
            "ip": "203.0.113.7",
            "website": "http://spam.example",
        },
    )
    assert response.status_code == 400
    assert rows(app, DelistRequest) == []


def test_error_messages_that_quote_the_input_are_escaped(app, client):
    # A translated message is "safe" to Jinja; what it quotes from the input must not be.
    app.config["EMAIL_CHECK_DELIVERABILITY"] = False
    response = submit_form(client, "ab@exa<mple.com", "203.0.113.7")  # quotes the "<"
    assert response.status_code == 400
    [error] = re.findall(r'<p class="error" id="email-error">(.*?)</p>', response.text)
    assert "&lt;" in error and "<" not in error


def mailed_link(app) -> str:
    """The confirmation link in the latest queued mail."""
    from tests.helpers import CONFIRM_LINK_RE

    with app.app_context():
        body = db.session.scalar(
            sa.select(OutboxMessage.body_text).order_by(OutboxMessage.id.desc()).limit(1)
        )
    return CONFIRM_LINK_RE.search(body).group(0)


def open_a_request(app, client, state: str) -> DelistRequest:
    """owner@example.com's request in `state`, with its first mail sent a moment ago."""
    from tests.helpers import press_delist

    if state == "needs_review":
        submit_form(client, "owner@example.com", "192.0.2.55")  # listed through a range
    else:
        submit_form(client, "owner@example.com", "203.0.113.7")
    if state == "scheduled":
        press_delist(client, mailed_link(app))
    [delist_request] = rows(app, DelistRequest)
    assert delist_request.status == state
    return delist_request


def only_open(response, delist_request) -> None:
    """The page says a request is open for the IP, and nothing else about it."""
    assert response.status_code == 200
    text = page_text(response)
    assert f"A removal request for {delist_request.ip} is already open" in text
    assert "/requests/" not in response.text
    assert delist_request.public_id not in response.text
    assert "owner@example.com" not in text and "a moment ago" not in text
    assert "already confirmed" not in text and "operator" not in text
    assert f'href="/lookup?ip={delist_request.ip}"' in response.text


@pytest.mark.parametrize("state", ["scheduled", "needs_review"])
def test_someone_else_learns_only_that_a_request_is_open_for_the_ip(app, client, listed, state):
    delist_request = open_a_request(app, client, state)
    only_open(
        submit_form(app.test_client(), "other@example.net", delist_request.ip), delist_request
    )


def test_an_earlier_recipient_learns_only_that_the_request_is_open(app, client, listed):
    delist_request = open_a_request(app, client, "pending")
    submit_form(app.test_client(), "right@example.com", "203.0.113.7")  # takes it over
    # owner@ had a mail for it a moment ago: "we sent you a link" would confirm a guess.
    only_open(submit_form(app.test_client(), "owner@example.com", "203.0.113.7"), delist_request)


def test_a_corrected_address_gets_a_link_by_mail_but_not_the_request_page(app, client, listed):
    open_a_request(app, client, "pending")
    response = submit_form(app.test_client(), "right@example.com", "203.0.113.7")
    assert "Check your inbox" in page_text(response)
    assert "/requests/" not in response.text
    assert "owner@example.com" not in response.text


@pytest.mark.parametrize("state", ["pending", "scheduled", "needs_review"])
def test_the_sender_of_a_request_still_sees_it_however_the_address_is_written(
    app, client, listed, state
):
    delist_request = open_a_request(app, client, state)
    response = submit_form(app.test_client(), "Owner+again@Example.com", delist_request.ip)
    assert f'href="/requests/{delist_request.public_id}"' in response.text
    text = page_text(response)
    expected = {
        "pending": "We sent you a link a moment ago",
        "scheduled": "Removal already scheduled",
        "needs_review": "already waiting for an operator's review",
    }
    assert expected[state] in text
    assert "is already open" not in text
