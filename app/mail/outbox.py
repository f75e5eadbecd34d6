"""The transactional outbox: queue mail with the change that causes it, deliver later.

Due messages are claimed a batch at a time with one UPDATE that also sets a lease (in
`next_attempt_at`), so several workers never send one message at the same time, and a
worker that dies mid-send leaves claims that expire and are retried. On PostgreSQL the
candidates are picked `FOR UPDATE SKIP LOCKED`, so workers pass over each other's rows
instead of racing for the same ones; SQLite has one writer at a time, and there the UPDATE
alone decides.

`enqueue` and the other writers join the caller's transaction. `deliver_due` is the
worker's delivery job: called with no transaction open, it commits each claim before
sending (so the lease is seen by other workers) and the batch's outcomes after it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from typing import Any, NamedTuple, TypeAlias

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


# A claim takes up to this many due messages in one transaction, and their outcomes are
# recorded in one more: two commits for fifty messages instead of two for each. Fifty go to
# a relay on the same network in about a tenth of a second, which is also about what a
# worker killed mid-batch (kill -9, power loss) may send again (RECORD_EVERY_SECONDS bounds
# it on a slow relay).
CLAIM_BATCH = 50
# While a batch is being sent, what went out is recorded (and committed) at least this often.
RECORD_EVERY_SECONDS = 1.0
# A batch's sends start within this many seconds of its claim, and its lease is longer by as
# much: no message is sent after another worker could claim it. The rest go back unsent.
SEND_WINDOW_SECONDS = 10.0

# What sending a claimed message and recording its outcome need, read by the claim itself.
_CLAIMED = (
    OutboxMessage.id,
    OutboxMessage.kind,
    OutboxMessage.request_id,
    OutboxMessage.recipient,
    OutboxMessage.subject,
    OutboxMessage.body_text,
    OutboxMessage.body_html,
    OutboxMessage.message_id,
    OutboxMessage.created_at,
)


# A claimed message as the claim returned it: its `_CLAIMED` columns, by name.
Claimed: TypeAlias = sa.Row[*tuple[Any, ...]]


def _lease(config: Mapping[str, Any]) -> timedelta:
    """How long a claim holds: the window in which a batch's sends start, then one send at
    its slowest (connecting and sending, each within the timeout) and a minute to spare."""
    return timedelta(seconds=SEND_WINDOW_SECONDS + 2 * config["MAIL_TIMEOUT_SECONDS"] + 60)


def _claim(now: datetime, lease: timedelta, size: int) -> list[Claimed]:
    """Take up to `size` due messages for this worker in one UPDATE, and commit.

    Each taken message is 'sending' under a lease (`next_attempt_at` = now + lease), so no
    other worker takes it until the lease runs out. On PostgreSQL the candidates are picked
    `FOR UPDATE SKIP LOCKED` (and checked again once locked), so concurrent claims pass over
    each other's rows and never take one message twice; SQLite has one writer at a time, so
    its UPDATE picks and takes them at once.
    """
    candidates = (
        sa.select(OutboxMessage.id)
        .where(_due(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(size)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL, ignored by SQLite
    )
    claimed = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates.scalar_subquery()))
        .values(status="sending", next_attempt_at=now + lease)
        .returning(*_CLAIMED)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(claimed, key=lambda message: message.id)


def _backoff(attempts: int) -> timedelta:
    base = current_app.config["MAIL_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(base * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))


def _redacted(body: sa.SQLColumnExpression[str]) -> sa.ColumnElement[str]:
    """`body` with the message's secret (the link) blanked out, in SQL: `replace()` on both
    databases, as str.replace does; a message without a secret keeps its body."""
    blanked = sa.func.replace(body, OutboxMessage.secret, REDACTED, type_=sa.Text)
    return sa.case((OutboxMessage.secret != "", blanked), else_=body)


def _mark_sent(sent: list[tuple[Claimed, str]], now: datetime) -> None:
    """Record these messages (with their server's replies) as delivered: one UPDATE, which
    blanks the link out of the stored copy, and one INSERT of their `mail.sent` events."""
    if not sent:
        return
    replies = {message.id: reply for message, reply in sent}
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(replies)))
        .values(
            status="sent",
            sent_at=now,
            next_attempt_at=now,  # done: when (the dashboard counts by it, see app.mail.activity)
            attempts=OutboxMessage.attempts + 1,
            last_error=None,
            smtp_reply=sa.case(replies, value=OutboxMessage.id),
            body_text=_redacted(OutboxMessage.body_text),  # SET reads the row as it was,
            body_html=_redacted(OutboxMessage.body_html),  # so the secret is still there
            secret=None,
        )
        .execution_options(synchronize_session=False)
    )
    audit.record_for_requests(
        "mail.sent",
        actor=WORKER,
        now=now,
        events=[(message.request_id, message.kind) for message, _ in sent],
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


def _release(messages: Iterable[Claimed], now: datetime, lease: timedelta) -> None:
    """Give back claimed messages that were not tried: queued and due, no attempt counted."""
    if not messages:
        return
    db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id.in_([message.id for message in messages]),
            OutboxMessage.status == "sending",
            OutboxMessage.next_attempt_at == now + lease,  # still this claim's
        )
        .values(status="queued", next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempts(self) -> int:
        return self.sent + self.retrying + self.failed


class _Batch:
    """Sending one claimed batch over one connection, its outcomes recorded together."""

    def __init__(
        self, claimed: list[Claimed], now: datetime, lease: timedelta, report: DeliveryReport
    ):
        self.waiting = deque(claimed)
        self.sent: list[tuple[Claimed, str]] = []  # not recorded yet
        self.now = now
        self.lease = lease
        self.report = report  # the pass's, counted as outcomes are recorded

    def deliver(self, transport: SmtpTransport, sender: str) -> bool:
        """Send the batch; False when the mail server could not be reached.

        Outcomes are committed when the batch is done, every RECORD_EVERY_SECONDS, and when
        the worker is stopped mid-batch (an exception that is not the database's): what a
        server accepted is then never sent again. A worker killed outright leaves what it
        sent since the last record 'sending' under the lease, to be sent again after it, the
        same Message-ID each time; at most a second's mail, or the batch if that is sooner.
        The messages not tried when the window closes or the server is unreachable go back
        to the queue without an attempt counted.
        """
        window_ends = time.monotonic() + SEND_WINDOW_SECONDS
        record_at = time.monotonic() + RECORD_EVERY_SECONDS
        reachable = True
        try:
            while self.waiting and reachable:
                reachable = self._send_next(transport, sender)
                if time.monotonic() >= record_at:
                    self._record()
                    record_at = time.monotonic() + RECORD_EVERY_SECONDS
                if time.monotonic() >= window_ends:
                    break
        except BaseException as stopped:
            if not isinstance(stopped, sa.exc.SQLAlchemyError):
                self._record()
            raise
        self._record()
        _release(self.waiting, self.now, self.lease)
        db.session.commit()
        return reachable

    def _send_next(self, transport: SmtpTransport, sender: str) -> bool:
        """Send the next message; False when the server could not be reached."""
        claimed = self.waiting[0]
        try:
            reply = transport.send(build_message(claimed, sender))
        except DeliveryError as error:
            self.waiting.popleft()
            self._failed(claimed.id, error)
            return not error.connection
        self.waiting.popleft()
        self.sent.append((claimed, reply))
        return True

    def _failed(self, message_id: int, error: DeliveryError) -> None:
        message = db.session.get_one(OutboxMessage, message_id)  # failures are rare: the ORM
        message.attempts += 1
        _mark_failed_attempt(message, error, self.now)
        if message.status == "failed":
            self.report.failed += 1
        else:
            self.report.retrying += 1
        current_app.logger.warning("mail %s not delivered: %s", message.id, error)

    def _record(self) -> None:
        _mark_sent(self.sent, self.now)
        db.session.commit()  # failures marked meanwhile go with it
        self.report.sent += len(self.sent)
        self.sent = []


def deliver_due(
    now: datetime,
    *,
    limit: int = 200,
    transport_factory: Callable[[], SmtpTransport] | None = None,
) -> DeliveryReport:
    """Send up to `limit` due messages over one connection, a claimed batch at a time; stop
    early if the server is down (see `_Batch.deliver` for what is committed when)."""
    config = current_app.config
    factory = transport_factory or (lambda: SmtpTransport(config))
    lease = _lease(config)
    report = DeliveryReport()
    with factory() as transport:
        while report.attempts < limit:
            claimed = _claim(now, lease, min(CLAIM_BATCH, limit - report.attempts))
            if not claimed:
                break
            batch = _Batch(claimed, now, lease, report)
            if not batch.deliver(transport, config["MAIL_DEFAULT_SENDER"]):
                break  # the server is unreachable: leave the rest for the next pass
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
