"""The worker claims due mail a batch at a time and records the batch's outcomes together."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.clock import utcnow
from app.extensions import db
from app.mail import outbox
from app.mail.transport import DeliveryError, SmtpTransport
from app.models import AuditEvent, OutboxMessage
from tests.helpers import CONFIRM_LINK_RE, T0
from tests.helpers_database import statements_sent
from tests.helpers_delisting import list_networks, submit

IPS = [f"203.0.113.{n}" for n in range(1, 6)]


def _confirmations(app) -> dict[int, tuple[str, str, str]]:
    """A confirmation mail queued for each of IPS: {id: (secret, text, html)} as queued."""
    with app.app_context():
        list_networks(*IPS)
        for n, ip in enumerate(IPS):
            submit(ip, email=f"sender{n}@example.org")
        db.session.commit()
        queued = db.session.execute(
            sa.select(
                OutboxMessage.id,
                OutboxMessage.secret,
                OutboxMessage.body_text,
                OutboxMessage.body_html,
            )
        )
        return {row.id: (row.secret, row.body_text, row.body_html) for row in queued}


def _messages(app) -> list[OutboxMessage]:
    with app.app_context():
        return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def _deliver(app, transport_factory=None) -> outbox.DeliveryReport:
    with app.app_context():
        return outbox.deliver_due(utcnow(), transport_factory=transport_factory)


def _claims(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("UPDATE outbox_message") and "LIMIT" in s]


def test_one_claim_takes_every_due_message_and_one_update_records_them_sent(app, smtp_sink):
    queued = _confirmations(app)
    with statements_sent(app) as statements:
        report = _deliver(app)
    assert report.sent == len(IPS) and len(smtp_sink.messages) == len(IPS)
    outbox_updates = [s for s in statements if s.startswith("UPDATE outbox_message")]
    assert len(outbox_updates) == 3  # the claim, the outcomes, a claim that finds none left
    assert _claims(statements) == [outbox_updates[0], outbox_updates[2]]
    audit_inserts = [s for s in statements if s.startswith("INSERT INTO audit_event")]
    assert len(audit_inserts) == 1
    assert [m.status for m in _messages(app)] == ["sent"] * len(queued)


def test_the_link_is_blanked_from_every_message_of_a_batch_as_before(app, smtp_sink):
    queued = _confirmations(app)
    _deliver(app)
    for message in _messages(app):
        secret, text, html = queued[message.id]
        assert secret and secret in text and secret in html
        assert message.body_text == text.replace(secret, outbox.REDACTED)
        assert message.body_html == html.replace(secret, outbox.REDACTED)
        assert not CONFIRM_LINK_RE.search(message.body_text + message.body_html)
        assert (message.secret, message.attempts, message.sent_at) == (None, 1, T0)
        assert message.next_attempt_at == T0 and message.smtp_reply == "250 OK"
    sent_links = [
        CONFIRM_LINK_RE.search(m.get_body(preferencelist=("plain",)).get_content())
        for m in smtp_sink.messages
    ]
    assert all(sent_links)  # the recipients got their links, of course


def test_each_sent_message_of_a_batch_has_its_audit_event(app, smtp_sink):
    _confirmations(app)
    _deliver(app)
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.request_id, AuditEvent.detail, AuditEvent.actor).where(
                AuditEvent.action == "mail.sent"
            )
        ).all()
        requests = db.session.scalars(sa.select(OutboxMessage.request_id)).all()
    assert sorted(events) == sorted((r, "confirmation", "worker") for r in requests)


class ServerGoneAfter(SmtpTransport):
    """Delivers `alive` messages; then the server cannot be reached any more."""

    def __init__(self, config, alive: int):
        super().__init__(config)
        self.alive = alive

    def send(self, mime):
        if self.alive == 0:
            raise DeliveryError(
                "cannot connect to 127.0.0.1: refused", permanent=False, connection=True
            )
        self.alive -= 1
        return super().send(mime)


def test_a_server_lost_mid_batch_leaves_the_rest_queued_without_an_attempt(
    app, smtp_sink, time_machine
):
    _confirmations(app)
    report = _deliver(app, lambda: ServerGoneAfter(app.config, 2))
    assert (report.sent, report.retrying, report.failed, report.attempts) == (2, 1, 0, 3)
    states = [(m.status, m.attempts, m.next_attempt_at, m.last_error) for m in _messages(app)]
    assert states[:2] == [("sent", 1, T0, None)] * 2
    assert states[2][:3] == ("queued", 1, T0 + timedelta(seconds=60))  # tried: backoff
    assert "cannot connect" in states[2][3]
    assert states[3:] == [("queued", 0, T0, None)] * 2  # never tried: due at once, no attempt
    assert _deliver(app).sent == 2  # the server is back: the two untried go first
    time_machine.move_to(T0 + timedelta(seconds=60))
    assert _deliver(app).sent == 1
    assert len(smtp_sink.messages) == len(IPS)


def test_a_batch_whose_window_closes_gives_back_the_rest_for_the_next_claim(
    app, smtp_sink, monkeypatch
):
    _confirmations(app)
    monkeypatch.setattr(outbox, "SEND_WINDOW_SECONDS", 0)  # one send a claim
    with statements_sent(app) as statements:
        report = _deliver(app)
    assert report.sent == len(IPS)
    assert len(_claims(statements)) == len(IPS) + 1  # the last finds none left
    ids = [m["Message-ID"] for m in smtp_sink.messages]
    assert len(set(ids)) == len(IPS)
    assert [(m.status, m.attempts) for m in _messages(app)] == [("sent", 1)] * len(IPS)


class Interrupted(SmtpTransport):
    """Delivers `alive` messages, then the worker is stopped (Ctrl-C) while sending the next,
    which the server may or may not have taken."""

    def __init__(self, config, alive: int):
        super().__init__(config)
        self.alive = alive

    def send(self, mime):
        if self.alive == 0:
            raise KeyboardInterrupt
        self.alive -= 1
        return super().send(mime)


def test_a_worker_stopped_mid_batch_records_what_went_out(app, smtp_sink, time_machine):
    _confirmations(app)
    with pytest.raises(KeyboardInterrupt):
        _deliver(app, lambda: Interrupted(app.config, 3))
    statuses = [m.status for m in _messages(app)]
    assert statuses == ["sent"] * 3 + ["sending"] * 2  # the rest wait for their lease
    time_machine.move_to(T0 + timedelta(minutes=5))
    assert _deliver(app).sent == 2
    ids = [m["Message-ID"] for m in smtp_sink.messages]
    assert len(ids) == len(set(ids)) == len(IPS)  # the three recorded were not sent again


def test_outcomes_are_recorded_while_a_long_batch_is_sent(
    app, smtp_sink, database_url, monkeypatch
):
    """A worker killed outright sends again only what went out since the last record."""
    _confirmations(app)
    monkeypatch.setattr(outbox, "RECORD_EVERY_SECONDS", 0)
    seen: list[int] = []
    other = sa.create_engine(database_url)

    class Watching(SmtpTransport):
        def send(self, mime):
            with other.connect() as connection:
                seen.append(
                    connection.scalar(
                        sa.select(sa.func.count()).where(OutboxMessage.status == "sent")
                    )
                )
            return super().send(mime)

    try:
        assert _deliver(app, lambda: Watching(app.config)).sent == len(IPS)
    finally:
        other.dispose()
    assert seen == list(range(len(IPS)))  # each send found the ones before it recorded
