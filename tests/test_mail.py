"""The confirmation mail and its delivery by the worker over real SMTP."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.mail import outbox as outbox_service
from app.mail.mailbox import mailbox
from app.models import OutboxMessage
from tests.helpers import CONFIRM_LINK_RE, T0, add_listings, run_worker, submit_form
from tests.helpers_mail import RefusingServer, smtp_server


@pytest.fixture
def listed(app):
    with app.app_context():
        blocklist.add_listing(parse_network("203.0.113.7"), "Spam", actor=Actor("test"), now=T0)
        db.session.commit()


def outbox(app):
    with app.app_context():
        return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_worker_delivers_the_confirmation_mail(app, client, listed, smtp_sink):
    submit_form(client, "sender@example.com", "203.0.113.7")
    report = run_worker(app)
    assert report.delivery.sent == 1
    [message] = smtp_sink.messages
    assert smtp_sink.envelopes == [("no-reply@delist.example.test", ["sender@example.com"])]
    assert message["To"] == "sender@example.com"
    assert "203.0.113.7" in message["Subject"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith(
        "@delist.example.test>"
    )
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    [link] = CONFIRM_LINK_RE.findall(text)
    assert link in html
    assert "203.0.113.7" in text and "203.0.113.7" in html
    assert "for 1 day" in text  # how long the link works
    assert "https://delist.example.test/requests/" in text
    assert "Delist IP" in text


def test_mail_lines_stay_under_78_characters(app, client, listed, smtp_sink):
    submit_form(client, "sender@example.com", "203.0.113.7")
    run_worker(app)
    raw = smtp_sink.messages[0].as_bytes()
    assert max(len(line) for line in raw.splitlines()) < 78
    text = smtp_sink.messages[0].get_body(preferencelist=("plain",)).get_content()
    prose = [line for line in text.splitlines() if not line.startswith("https://")]
    assert max(len(line) for line in prose) < 78


def test_link_uses_the_public_address_not_the_host_header(app, client, listed, smtp_sink):
    submit_form(client, "sender@example.com", "203.0.113.7", Host="evil.example.org")
    run_worker(app)
    text = smtp_sink.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "evil.example.org" not in text
    assert CONFIRM_LINK_RE.search(text)


def test_delivered_message_no_longer_stores_the_link(app, client, listed, smtp_sink):
    submit_form(client, "sender@example.com", "203.0.113.7")
    [queued] = outbox(app)
    assert CONFIRM_LINK_RE.search(queued.body_text)
    run_worker(app)
    [sent] = outbox(app)
    assert sent.status == "sent" and sent.sent_at == T0 and sent.attempts == 1
    assert sent.next_attempt_at == T0  # when it was done, for the dashboard's chart
    assert sent.secret is None
    assert not CONFIRM_LINK_RE.search(sent.body_text)
    assert not CONFIRM_LINK_RE.search(sent.body_html)


def test_smtp_outage_keeps_the_request_and_delivers_once_back(
    app, client, listed, smtp_sink, time_machine
):
    smtp_sink.stop()
    submit_form(client, "sender@example.com", "203.0.113.7")
    report = run_worker(app)
    assert report.delivery.retrying == 1
    [message] = outbox(app)
    assert message.status == "queued" and message.attempts == 1
    assert "cannot connect" in message.last_error
    assert message.next_attempt_at == T0 + timedelta(seconds=60)

    smtp_sink.start()
    assert run_worker(app).delivery.sent == 0  # not due yet: backoff is respected
    time_machine.move_to(T0 + timedelta(seconds=60))
    assert run_worker(app).delivery.sent == 1
    assert len(smtp_sink.messages) == 1
    [message] = outbox(app)
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)
    assert run_worker(app).delivery.sent == 0  # never twice


def test_backoff_doubles_and_gives_up_after_the_last_attempt(app, client, listed, time_machine):
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    submit_form(client, "sender@example.com", "203.0.113.7")
    now = T0
    for expected_wait in (60, 120):
        run_worker(app)
        [message] = outbox(app)
        assert message.next_attempt_at - now == timedelta(seconds=expected_wait)
        now = message.next_attempt_at
        time_machine.move_to(now)
    report = run_worker(app)
    assert report.delivery.failed == 1
    [message] = outbox(app)
    assert (message.status, message.attempts) == ("failed", 3)
    assert message.next_attempt_at == now  # when it failed for good


def test_permanent_refusal_is_not_retried(app, client, listed):
    with smtp_server(RefusingServer(), app.config["MAIL_PORT"]):
        submit_form(client, "nobody@example.com", "203.0.113.7")
        report = run_worker(app)
    assert report.delivery.failed == 1
    [message] = outbox(app)
    assert message.status == "failed"
    assert "550" in message.last_error


class RamblingSink:
    """A broken server whose reply line is longer than smtplib will read (8192 bytes)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "250 " + "x" * 9000


def test_a_reply_too_long_to_read_fails_the_message_not_the_worker(app, client, listed):
    from aiosmtpd.controller import Controller

    controller = Controller(RamblingSink(), hostname="127.0.0.1", port=app.config["MAIL_PORT"])
    controller.start()
    try:
        submit_form(client, "nobody@example.com", "203.0.113.7")
        report = run_worker(app)
    finally:
        controller.stop()
    assert report.delivery.failed == 1
    [message] = outbox(app)
    assert message.status == "failed"
    assert "Line too long" in message.last_error


def test_a_claim_left_by_a_dead_worker_is_retried_after_its_lease(
    app, client, listed, smtp_sink, time_machine
):
    submit_form(client, "sender@example.com", "203.0.113.7")
    with app.app_context():
        db.session.execute(
            sa.update(OutboxMessage).values(
                status="sending", next_attempt_at=T0 + timedelta(minutes=2)
            )
        )
        db.session.commit()
    assert run_worker(app).delivery.sent == 0  # still claimed by the (dead) worker
    time_machine.move_to(T0 + timedelta(minutes=2))
    assert run_worker(app).delivery.sent == 1
    assert len(smtp_sink.messages) == 1


def test_a_new_link_cancels_the_unsent_older_mail(app, client, listed, smtp_sink, time_machine):
    smtp_sink.stop()
    submit_form(client, "sender@example.com", "203.0.113.7")
    run_worker(app)  # fails: the server is down
    time_machine.move_to(T0 + timedelta(minutes=5))
    submit_form(client, "sender@example.com", "203.0.113.7")
    smtp_sink.start()
    time_machine.move_to(T0 + timedelta(minutes=10))
    assert run_worker(app).delivery.sent == 1
    assert [m.status for m in outbox(app)] == ["cancelled", "sent"]
    [mail] = smtp_sink.messages
    [link] = CONFIRM_LINK_RE.findall(mail.get_body(preferencelist=("plain",)).get_content())
    assert client.get(link.removeprefix("https://delist.example.test")).status_code == 200


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_a_worker_skips_a_message_another_worker_holds(
    app, client, listed, smtp_sink, database_url
):
    submit_form(client, "first@example.com", "203.0.113.7")
    add_listings(app, "198.51.100.9")
    submit_form(client, "second@example.com", "198.51.100.9")
    other_worker = sa.create_engine(database_url)
    try:
        with other_worker.connect() as connection, connection.begin():
            # Another worker's transaction holds the oldest due message.
            first_id = connection.execute(
                sa.select(OutboxMessage.id).order_by(OutboxMessage.id).limit(1).with_for_update()
            ).scalar_one()
            with app.app_context():
                db.session.execute(sa.text("SET lock_timeout = '5s'"))  # fail, never hang
                report = outbox_service.deliver_due(utcnow())
            assert report.sent == 1
            assert smtp_sink.envelopes[0][1] == ["second@example.com"]
            assert first_id == outbox(app)[0].id
    finally:
        other_worker.dispose()
    assert outbox(app)[0].status == "queued"  # left for the next pass, not lost


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Bomb@Example.com", "bomb@example.com"),
        ("bomb+news@example.com", "bomb@example.com"),
        ("bomb+a+b@example.com", "bomb@example.com"),
        (" plain@example.org ", "plain@example.org"),
        ("no-at-sign", "no-at-sign"),
    ],
)
def test_one_mailbox_however_its_address_is_written(address, expected):
    assert mailbox(address) == expected
