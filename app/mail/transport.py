"""Building email messages and handing them to an SMTP server."""

from __future__ import annotations

import functools
import smtplib
import ssl
from collections.abc import Mapping
from datetime import datetime
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING, Any, Protocol

from app.mail import signing

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class _Headers(HeaderRegistry):
    """The standard library's header registry, making each thing once: a header class, and a
    header whose text is the same in every message (From, MIME-Version, Content-Type, ...).
    `HeaderRegistry` makes a new class for every header (`type(...)`) and parses every value
    again, sixteen headers a message, twelve of them the same each time: the two together
    were about two thirds of building a message (0.9 ms). Classes and headers are immutable
    once made, so every message is the same as before, byte for byte."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._parsed = functools.lru_cache(maxsize=64)(super().__call__)

    def __getitem__(self, name: str) -> type[BaseHeader]:
        made = self._classes.get(name)
        if made is None:
            made = self._classes[name] = super().__getitem__(name)
        return made

    def __call__(self, name: str, value: Any) -> BaseHeader:
        # The recent texts stay: the repeated ones always are (a To or Subject passes through).
        return (
            self._parsed(name, value) if isinstance(value, str) else super().__call__(name, value)
        )


# Quoted-printable lines of at most 76 characters, as RFC 2045 asks.
MAIL_POLICY = policy.default.clone(max_line_length=76, header_factory=_Headers())


class DeliveryError(Exception):
    """Sending failed; `permanent` says whether a retry could help, `reply` is the server's
    answer ("550 5.1.1 No such user") when it gave one."""

    def __init__(
        self, message: str, *, permanent: bool, connection: bool = False, reply: str | None = None
    ):
        super().__init__(message)
        self.permanent = permanent
        self.connection = connection
        self.reply = reply


def reply_text(code: int, text: bytes | str) -> str:
    """A server's reply as one line: "250 2.0.0 Ok: queued as 4F2A"."""
    detail = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(detail.split())}"[:500]


class Mail(Protocol):
    """What a message is built from: an outbox row (`OutboxMessage`), or the columns of it
    the worker claimed."""

    @property
    def recipient(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def message_id(self) -> str: ...
    @property
    def body_text(self) -> str: ...
    @property
    def body_html(self) -> str: ...


def build_message(message: Mail, sender: str) -> EmailMessage:
    """The MIME message for an outbox row: text and HTML parts, stable Message-ID."""
    mime = EmailMessage(policy=MAIL_POLICY)
    mime["From"] = sender
    mime["To"] = message.recipient
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(message.created_at)
    mime["Message-ID"] = message.message_id
    # Tell auto-responders and vacation replies not to answer.
    mime["Auto-Submitted"] = "auto-generated"
    mime["X-Auto-Response-Suppress"] = "All"
    mime.set_content(message.body_text)
    mime.add_alternative(message.body_html, subtype="html")
    return mime


class _SMTP(smtplib.SMTP):
    """smtplib's sendmail drops the server's reply to the message; this keeps it."""

    data_reply: tuple[int, bytes] = (0, b"")

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self.data_reply = super().data(msg)
        return self.data_reply


class _SMTPOverTLS(_SMTP, smtplib.SMTP_SSL):
    pass


def wire_bytes(mime: EmailMessage, *, international: bool) -> bytes:
    """The message as it goes on the wire: CRLF line ends, UTF-8 headers only for SMTPUTF8."""
    return mime.as_bytes(policy=MAIL_POLICY.clone(linesep="\r\n", utf8=international))


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for a batch; signs with DKIM
    when a key is set (app.mail.signing)."""

    def __init__(self, config: Mapping[str, Any]):
        self.host = config["MAIL_SERVER"]
        self.port = config["MAIL_PORT"]
        self.timeout = config["MAIL_TIMEOUT_SECONDS"]
        self.use_tls = config["MAIL_USE_TLS"]
        self.use_ssl = config["MAIL_USE_SSL"]
        self.username = config.get("MAIL_USERNAME")
        self.password = config.get("MAIL_PASSWORD")
        self.dkim_key = signing.key_from(config)
        self._smtp: _SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connect(self) -> _SMTP:
        smtp: _SMTP
        try:
            if self.use_ssl:
                context = ssl.create_default_context()
                smtp = _SMTPOverTLS(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = _SMTP(self.host, self.port, timeout=self.timeout)
                if self.use_tls:
                    smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"cannot connect to {self.host}:{self.port}: {exc}",
                permanent=False,
                connection=True,
            ) from exc
        return smtp

    def send(self, mime: EmailMessage) -> str:
        """Send one message; return the server's reply to it, or raise DeliveryError."""
        sender = parseaddr(str(mime["From"]))[1]
        recipient = parseaddr(str(mime["To"]))[1]
        international = not (sender.isascii() and recipient.isascii())
        raw = wire_bytes(mime, international=international)
        if self.dkim_key is not None:
            raw = signing.signed(raw, self.dkim_key)
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            return self._send(self._smtp, sender, recipient, raw, international)
        except DeliveryError:
            self.close()
            raise

    def _send(
        self, smtp: _SMTP, sender: str, recipient: str, raw: bytes, international: bool
    ) -> str:
        options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
        try:
            smtp.ehlo_or_helo_if_needed()
            if international and not smtp.has_extn("smtputf8"):
                raise DeliveryError(
                    "the mail server does not take international addresses (SMTPUTF8)",
                    permanent=True,
                )
            smtp.sendmail(sender, [recipient], raw, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            [(code, text)] = exc.recipients.values()
            reply = reply_text(code, text)
            raise DeliveryError(
                f"recipient refused: {reply}", permanent=code >= 500, reply=reply
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # bytes from the server; text when smtplib refuses a reply
            reply = reply_text(exc.smtp_code, exc.smtp_error)
            raise DeliveryError(reply, permanent=exc.smtp_code >= 500, reply=reply) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"connection lost: {exc!r}", permanent=False) from exc
        return reply_text(*smtp.data_reply)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
