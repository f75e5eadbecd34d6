"""Attacks and accidents: forged tokens, mail bombing, SMTP outages, a worker dying mid-batch."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.cli import worker
from app.core.clock import utcnow
from app.extensions import db
from app.mail import outbox
from app.mail.transport import DeliveryError, SmtpTransport
from app.models import OutboxMessage
from tests.helpers import T0, add_listings, submit_form


def queued_link(app) -> str:
    """The path of the confirmation link in the queued mail."""
    with app.app_context():
        body = db.session.scalar(sa.select(OutboxMessage.body_text))
    return re.search(r"/confirm/[A-Za-z0-9_.\-]+", body).group(0)


def same_bytes(forged: str, token: str) -> bool:
    """Do two tokens decode to the same bytes (a change in padding bits only)?"""
    from itsdangerous.encoding import base64_decode

    def decoded(text):
        try:
            return [base64_decode(part) for part in text.split(".")]
        except Exception:
            return None

    return decoded(forged) is not None and decoded(forged) == decoded(token)


def test_every_single_character_changed_in_a_token_is_refused(app, client):
    add_listings(app, "203.0.113.7")
    submit_form(client, "sender@example.org", "203.0.113.7")
    path = queued_link(app)
    token = path.removeprefix("/confirm/")
    assert client.get(path).status_code == 200
    for position, char in enumerate(token):
        forged = token[:position] + ("B" if char == "A" else "A") + token[position + 1 :]
        if same_bytes(forged, token):
            continue  # only unused base64 padding bits changed: the very same token
        assert client.get(f"/confirm/{forged}").status_code in (404, 410), position
    assert client.get(path[:-1]).status_code == 404  # cut short, as mail programs do


@pytest.mark.parametrize(
    "app_overrides",
    [
        {
            "PROXY_COUNT": 1,
            "MAIL_PER_RECIPIENT_PER_DAY": 5,
            "RATE_LIMIT_SUBMIT_PER_EMAIL": "1000 per hour",
            "RATE_LIMIT_SUBMIT_PER_IP": "1000 per hour",
            "RATE_LIMIT_SUBMIT_PER_ADDRESS": "1000 per hour",
        }
    ],
)
def test_mail_bombing_one_recipient_sends_at_most_the_daily_cap(app, client, smtp_sink):
    ips = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(200)]
    add_listings(app, *ips)
    for i, ip in enumerate(ips):
        submit_form(
            client, "victim@example.org", ip, **{"X-Forwarded-For": f"192.0.2.{i % 250 + 1}"}
        )
    with app.app_context():
        while worker.run_once(utcnow()).delivery.sent:
            pass
    assert len(smtp_sink.messages) == 5


def submit_many(app, client, count):
    ips = [f"198.51.100.{i + 1}" for i in range(count)]
    add_listings(app, *ips)
    for i, ip in enumerate(ips):
        submit_form(client, f"sender{i}@example.org", ip)
    return ips


# Many submissions from one client, to test the mail path rather than the rate limits.
RELAXED = {
    "RATE_LIMIT_SUBMIT_PER_ADDRESS": "1000 per hour",
    "RATE_LIMIT_CONFIRMATION_MAILS_PER_CLIENT": "1000 per hour",
}


@pytest.mark.parametrize("app_overrides", [RELAXED])
def test_smtp_outage_loses_nothing_and_doubles_nothing(app, client, smtp_sink, time_machine):
    smtp_sink.stop()
    submit_many(app, client, 100)
    with app.app_context():
        report = worker.run_once(utcnow())
    assert report.delivery.sent == 0
    smtp_sink.start()
    time_machine.move_to(T0 + timedelta(minutes=5))
    with app.app_context():
        while worker.run_once(utcnow()).delivery.sent:
            pass
    ids = [m["Message-ID"] for m in smtp_sink.messages]
    assert len(ids) == 100 and len(set(ids)) == 100
    assert sorted(m["To"] for m in smtp_sink.messages) == sorted(
        f"sender{i}@example.org" for i in range(100)
    )


class DyingTransport(SmtpTransport):
    """Delivers `alive` messages, then dies after handing over the next one (a killed worker)."""

    def __init__(self, config, alive):
        super().__init__(config)
        self.alive = alive

    def send(self, mime):
        reply = super().send(mime)
        self.alive -= 1
        if self.alive < 0:
            raise SystemExit("worker killed")
        return reply


@pytest.mark.parametrize("app_overrides", [RELAXED])
def test_a_worker_killed_mid_batch_loses_nothing(app, client, smtp_sink, time_machine):
    submit_many(app, client, 100)
    with app.app_context(), pytest.raises(SystemExit):
        outbox.deliver_due(utcnow(), transport_factory=lambda: DyingTransport(app.config, 40))
    assert len(smtp_sink.messages) == 41  # the 41st was handed over, then the worker died
    time_machine.move_to(T0 + timedelta(minutes=5))  # past the dead worker's claim
    with app.app_context():
        db.session.remove()
        while worker.run_once(utcnow()).delivery.sent:
            pass
        states = db.session.scalars(sa.select(OutboxMessage.status)).all()
    ids = [m["Message-ID"] for m in smtp_sink.messages]
    assert len(set(ids)) == 100  # everyone got their mail
    assert len(ids) <= 101  # at most the one in flight twice, with the same Message-ID
    assert set(states) == {"sent"}


def test_a_dying_connection_mid_message_is_retried(app, client, smtp_sink, monkeypatch):
    add_listings(app, "203.0.113.7")
    submit_form(client, "sender@example.org", "203.0.113.7")
    real_send = SmtpTransport.send
    calls = {"n": 0}

    def flaky(self, mime):
        calls["n"] += 1
        if calls["n"] == 1:
            self.close()
            raise DeliveryError("connection lost: dropped during DATA", permanent=False)
        return real_send(self, mime)

    monkeypatch.setattr(SmtpTransport, "send", flaky)
    with app.app_context():
        assert worker.run_once(utcnow()).delivery.retrying == 1
    app.config["MAIL_RETRY_BASE_SECONDS"] = 1
    with app.app_context():
        message = db.session.scalar(sa.select(OutboxMessage))
        message.next_attempt_at = utcnow()
        db.session.commit()
        assert worker.run_once(utcnow()).delivery.sent == 1
    assert len(smtp_sink.messages) == 1


@pytest.mark.parametrize(
    "app_overrides",
    # Plain HTTP here, so the session cookie must not be marked Secure.
    [{"RATE_LIMIT_CONFIRM_PER_ADDRESS": "1000 per hour", "PUBLIC_BASE_URL": "http://127.0.0.1"}],
)
def test_fifty_concurrent_presses_on_a_real_server_schedule_exactly_once(app, client):
    import http.cookiejar
    import threading
    import urllib.parse
    import urllib.request

    from werkzeug.serving import make_server

    from app.models import AuditEvent
    from tests.helpers import free_port, run_at_once

    add_listings(app, "203.0.113.7")
    submit_form(client, "sender@example.org", "203.0.113.7")
    path = queued_link(app)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}{path}"
    try:
        browsers = []
        for _ in range(50):  # each with its own session cookie and CSRF token
            opener = urllib.request.build_opener(
                urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
            )
            page = opener.open(url, timeout=30).read().decode()
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            browsers.append((opener, token))

        def press(opener, token):
            data = urllib.parse.urlencode({"csrf_token": token}).encode()
            with opener.open(url, data=data, timeout=60) as response:
                return response.status, response.url

        results = run_at_once(press, browsers, timeout=120)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert len(results) == 50
    assert {status for status, _ in results} == {200}  # every press lands on the status page
    assert len({final for _, final in results}) == 1
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("request.confirmed") == 1
    assert actions.count("removal.scheduled") == 1
