"""The transactional outbox: queue mail with the change that causes it, deliver later.

A message is claimed with a conditional UPDATE that also sets a lease (in
`next_attempt_at`), so several workers never send one message at the same time,
and a worker that dies mid-send leaves a claim that expires and is retried. On
PostgreSQL the candidate is picked `FOR UPDATE SKIP LOCKED`, so workers pass over
each other's rows instead of racing for the same one; SQLite has one writer at a
time, and there the conditional UPDATE alone decides.

`enqueue` and the other writers join the caller's transaction. `deliver_due` is the
worker's delivery job: called with no transaction open, it commits each claim before
sending (so the lease is seen by other workers) and each outcome after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale

from app.core import audit, security_log, sql
from app.core.actor import WORKER, Actor
from app.core.errors import NotAllowed
from app.extensions import db
from app.mail.mailbox import mailbox
from app.mail.transport import DeliveryError, SmtpTransport, build_message
from app.models import DelistRequest, OutboxMessage

MAX_BACKOFF_SECONDS = 6 * 3600
REDACTED = "[link removed after delivery]"


class Letter(NamedTuple):
    """A message's text, in its recipient's language."""

    subject: str
    body_text: str
    body_html: str


def render_letter(template: str, subject: Any, context: dict[str, Any], locale: str) -> Letter:
    """Render `templates/email/<template>.{txt,html}` and `subject` in `locale`."""
    with force_locale(locale):
        return Letter(
            str(subject),  # a lazy string is translated in the mail's language
            render_template(f"email/{template}.txt", **context),
            render_template(f"email/{template}.html", **context),
        )


def queued_row(
    kind: str,
    *,
    recipient: str,
    letter: Letter,
    now: datetime,
    request_id: int | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    """The columns of a message queued now, logged as queued: for `enqueue`, and for a
    caller that inserts the row itself (with other rows, in one statement)."""
    sender_domain = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2]
    security_log.event("mail.queued", email=recipient, kind=kind)
    return {
        "kind": kind,
        "request_id": request_id,
        "recipient": recipient,
        "recipient_mailbox": mailbox(recipient),
        "subject": letter.subject,
        "body_text": letter.body_text,
        "body_html": letter.body_html,
        "message_id": make_msgid(domain=sender_domain or None),
        "secret": secret,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def enqueue(
    kind: str,
    *,
    recipient: str,
    letter: Letter,
    now: datetime,
    delist_request: DelistRequest | None = None,
    secret: str | None = None,
) -> OutboxMessage:
    """Queue `letter` in this transaction."""
    message = OutboxMessage(
        **queued_row(
            kind,
            recipient=recipient,
            letter=letter,
            now=now,
            request_id=delist_request.id if delist_request else None,
            secret=secret,
        )
    )
    db.session.add(message)
    return message


def cancel_unsent(delist_request: DelistRequest, kind: str) -> int:
    """Cancel queued messages of `kind` for `delist_request` (superseded before delivery)."""
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.request_id == delist_request.id,
            OutboxMessage.kind == kind,
            OutboxMessage.status == "queued",
        )
        .values(status="cancelled", secret=None)
        .execution_options(synchronize_session=False)
    )
    return sql.rowcount(result)


def last_mail_to(recipient: str, delist_request: DelistRequest) -> datetime | None:
    """When a message for `delist_request` was last queued for `recipient`'s mailbox."""
    return db.session.scalar(
        sa.select(sa.func.max(OutboxMessage.created_at)).where(
            OutboxMessage.recipient_mailbox == mailbox(recipient),
            OutboxMessage.request_id == delist_request.id,
        )
    )


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        OutboxMessage.status.in_(("queued", "sending")), OutboxMessage.next_attempt_at <= now
    )


class QueueState(NamedTuple):
    """What waits in the outbox: messages by status (delivered ones not counted) and when
    the longest-waiting due message became due."""

    by_status: dict[str, int]
    oldest_due_at: datetime | None


def queue_state(now: datetime) -> QueueState:
    """Two index range scans (`ix_outbox_message_due`), however many messages were sent."""
    counted = db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count())
        .where(OutboxMessage.status.in_(("queued", "sending", "failed")))
        .group_by(OutboxMessage.status)
    )
    by_status = {"queued": 0, "sending": 0, "failed": 0, **{s: n for s, n in counted}}
    oldest = db.session.scalar(
        sa.select(sa.func.min(OutboxMessage.next_attempt_at)).where(_due(now))
    )
    return QueueState(by_status, oldest)


def _claim(now: datetime, lease: timedelta) -> OutboxMessage | None:
    """Take the next due message for this worker, or None when none is left."""
    for _ in range(5):  # another worker may win a race; try the next one
        candidate = db.session.execute(
            sa.select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.next_attempt_at)
            .where(_due(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # rendered on PostgreSQL, ignored by SQLite
        ).first()
        if candidate is None:
            return None
        result = db.session.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.id == candidate.id,
                OutboxMessage.status == candidate.status,
                OutboxMessage.next_attempt_at == candidate.next_attempt_at,
            )
            .values(status="sending", next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        claimed = sql.rowcount(result)
        db.session.commit()
        if claimed:
            return db.session.get(OutboxMessage, candidate.id, populate_existing=True)
    return None


def _backoff(attempts: int) -> timedelta:
    base = current_app.config["MAIL_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(base * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))


def _mark_sent(message: OutboxMessage, now: datetime, reply: str) -> None:
    message.status = "sent"
    message.sent_at = now
    message.next_attempt_at = now  # done: when (the dashboard counts by it, see app.mail.activity)
    message.last_error = None
    message.smtp_reply = reply
    if message.secret:
        message.body_text = message.body_text.replace(message.secret, REDACTED)
        message.body_html = message.body_html.replace(message.secret, REDACTED)
        message.secret = None
    audit.record(
        "mail.sent",
        actor=WORKER,
        now=now,
        delist_request=message.delist_request,
        detail=message.kind,
    )


def _mark_failed_attempt(message: OutboxMessage, error: DeliveryError, now: datetime) -> None:
    message.last_error = str(error)[:2000]
    message.smtp_reply = error.reply
    if error.permanent or message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        message.status = "failed"
        message.next_attempt_at = now  # done: when
        audit.record(
            "mail.failed",
            actor=WORKER,
            now=now,
            delist_request=message.delist_request,
            detail=str(error),
        )
    else:
        message.status = "queued"
        message.next_attempt_at = now + _backoff(message.attempts)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_due(
    now: datetime,
    *,
    limit: int = 200,
    transport_factory: Callable[[], SmtpTransport] | None = None,
) -> DeliveryReport:
    """Send due messages, committing each outcome; stop early if the server is down."""
    config = current_app.config
    factory = transport_factory or (lambda: SmtpTransport(config))
    lease = timedelta(seconds=2 * config["MAIL_TIMEOUT_SECONDS"] + 60)
    report = DeliveryReport()
    with factory() as transport:
        for _ in range(limit):
            message = _claim(now, lease)
            if message is None:
                break
            message.attempts += 1
            try:
                reply = transport.send(build_message(message, config["MAIL_DEFAULT_SENDER"]))
            except DeliveryError as error:
                _mark_failed_attempt(message, error, now)
                db.session.commit()
                if message.status == "failed":
                    report.failed += 1
                else:
                    report.retrying += 1
                current_app.logger.warning("mail %s not delivered: %s", message.id, error)
                if error.connection:
                    break  # the server is unreachable: leave the rest for the next pass
                continue
            _mark_sent(message, now, reply)
            db.session.commit()
            report.sent += 1
    return report


def resend(message: OutboxMessage, *, actor: Actor, now: datetime) -> OutboxMessage:
    """Deliver a failed message again, or a copy of a delivered one that holds no secret."""
    if not message.may_be_resent:
        raise NotAllowed(f"a {message.status} {message.kind} message cannot be sent again")
    if message.status == "failed":
        message.status = "queued"
        message.attempts = 0
        message.next_attempt_at = now
        message.last_error = None
        message.smtp_reply = None
        again = message
    else:
        again = OutboxMessage(
            kind=message.kind,
            request_id=message.request_id,
            recipient=message.recipient,
            recipient_mailbox=message.recipient_mailbox,
            subject=message.subject,
            body_text=message.body_text,
            body_html=message.body_html,
            message_id=make_msgid(domain=message.message_id.rpartition("@")[2].rstrip(">")),
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        db.session.add(again)
        db.session.flush()
    audit.record(
        "mail.resent",
        actor=actor,
        now=now,
        delist_request=message.delist_request,
        detail=f"message {message.id} ({message.kind})",
    )
    return again
