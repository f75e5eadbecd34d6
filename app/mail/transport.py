"""Building email messages and handing them to an SMTP server."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from app.models import OutboxMessage

# Quoted-printable lines of at most 76 characters, as RFC 2045 asks.
MAIL_POLICY = policy.default.clone(max_line_length=76)


class DeliveryError(Exception):
    """Sending failed; `permanent` says whether a retry could help."""

    def __init__(self, message: str, *, permanent: bool, connection: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.connection = connection


def build_message(message: OutboxMessage, sender: str) -> EmailMessage:
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


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for a batch."""

    def __init__(self, config: Mapping[str, Any]):
        self.host = config["MAIL_SERVER"]
        self.port = config["MAIL_PORT"]
        self.timeout = config["MAIL_TIMEOUT_SECONDS"]
        self.use_tls = config["MAIL_USE_TLS"]
        self.use_ssl = config["MAIL_USE_SSL"]
        self.username = config.get("MAIL_USERNAME")
        self.password = config.get("MAIL_PASSWORD")
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        try:
            if self.use_ssl:
                context = ssl.create_default_context()
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
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

    def send(self, mime: EmailMessage) -> None:
        """Send one message; raise DeliveryError on failure."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.send_message(mime)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused: {exc.recipients}",
                permanent=all(code >= 500 for code in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            error = exc.smtp_error  # bytes from the server; text when smtplib refuses a reply
            detail = error.decode(errors="replace") if isinstance(error, bytes) else error
            raise DeliveryError(
                f"{exc.smtp_code} {detail}", permanent=exc.smtp_code >= 500
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryError(f"connection lost: {exc!r}", permanent=False) from exc
        if refused:
            raise DeliveryError(f"recipient refused: {refused}", permanent=True)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
