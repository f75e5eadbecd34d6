"""A test message through the configured relay, for the operator setting it up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from app.mail.transport import MAIL_POLICY, SmtpTransport

BODY = """\
This is a test message from the delist portal at {url}.

It was sent with "flask mail test" to check the mail relay settings
(MAIL_SERVER and the other MAIL_* settings). Nothing needs to be done.
"""


def build_test_message(config: Mapping[str, Any], recipient: str, now: datetime) -> EmailMessage:
    """A plain message with the headers the portal's own mail carries."""
    sender = config["MAIL_DEFAULT_SENDER"]
    mime = EmailMessage(policy=MAIL_POLICY)
    mime["From"] = sender
    mime["To"] = recipient
    mime["Subject"] = "Test message from the delist portal"
    mime["Date"] = format_datetime(now)
    mime["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    mime["Auto-Submitted"] = "auto-generated"
    mime.set_content(BODY.format(url=config["PUBLIC_BASE_URL"]))
    return mime


def send_test_message(config: Mapping[str, Any], recipient: str, now: datetime) -> str:
    """Send it (DKIM-signed when configured); the relay's reply, or DeliveryError."""
    with SmtpTransport(config) as transport:
        return transport.send(build_test_message(config, recipient, now))
