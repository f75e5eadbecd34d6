"""Checking the mail we send as receivers do: DKIM against a published key, SpamAssassin's
local tests, and SMTP servers that refuse."""

from __future__ import annotations

import re
import subprocess
from contextlib import contextmanager
from datetime import datetime
from email import policy
from email.parser import BytesParser

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app import create_app
from app.extensions import db
from app.models import OutboxMessage
from tests.helpers import BASE_CONFIG
from tests.helpers_mta import require

QUOTED_RE = re.compile(r'"([^"]*)"')
ZONE_LINE_RE = re.compile(r"^(\S+)\. IN TXT \(.*\)$", re.MULTILINE)


def keygen(folder, domain: str = "delist.example.test", selector: str = "mail2026"):
    """Run `flask dkim keygen` into `folder`; return the key file, the result and the DNS
    records it printed ({name: TXT text}), as an operator would publish them."""
    app = create_app({**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{folder}/unused.db"})
    path = folder / "dkim.pem"
    result = app.test_cli_runner().invoke(
        args=["dkim", "keygen", "--domain", domain, "--selector", selector, "--output", str(path)]
    )
    records = {
        match.group(1): "".join(QUOTED_RE.findall(match.group(0)))
        for match in ZONE_LINE_RE.finditer(result.output)
    }
    return path, result, records


def dns_stub(records: dict[str, str]):
    """A `dnsfunc` for dkimpy: TXT answers from `records`, nothing else (no network)."""

    def txt(name: bytes, timeout: float = 5) -> bytes | None:
        value = records.get(name.decode("ascii").rstrip("."))
        return value.encode("ascii") if value is not None else None

    return txt


def queue_plain_mail(count: int, *, now: datetime) -> None:
    """`count` short messages to different recipients, due at `now`, straight into the outbox."""
    db.session.execute(
        sa.insert(OutboxMessage),
        [
            {
                "kind": "notice",
                "recipient": f"r{n}@example.org",
                "recipient_mailbox": f"r{n}@example.org",
                "subject": f"Notice {n}",
                "body_text": f"Notice {n}.",
                "body_html": f"<p>Notice {n}.</p>",
                "message_id": f"<notice-{n}@delist.example.test>",
                "status": "queued",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for n in range(count)
        ],
    )


class RefusingServer:
    """An aiosmtpd handler that refuses every recipient with `reply`."""

    def __init__(self, reply: str = "550 5.1.1 No such user"):
        self.reply = reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return self.reply


@contextmanager
def smtp_server(handler, port: int):
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


SPAM_STATUS_RE = re.compile(r"score=(-?[0-9.]+) .*tests=(.*?)(?: autolearn=|$)")


def spamassassin_score(raw: bytes) -> tuple[float, list[str]]:
    """SpamAssassin's score and rule names for `raw`, from its local tests only (-L: no
    network, no DNS), with no user preferences and no Bayes database."""
    result = subprocess.run(
        [require("spamassassin"), "-L", "-x", "--cf=use_bayes 0"],
        input=raw,
        capture_output=True,
        timeout=120,
        check=True,
    )
    checked = BytesParser(policy=policy.default).parsebytes(result.stdout)
    status = " ".join(str(checked["X-Spam-Status"]).split())
    match = SPAM_STATUS_RE.search(status)
    assert match, f"no score in {status!r}: {result.stderr.decode(errors='replace')}"
    names = match.group(2).replace(" ", "").split(",")
    return float(match.group(1)), [name for name in names if name and name != "none"]
