"""A local mail sink and a mailbox page, for trying the portal without a mail server.

Enabled only when DEV_MAILBOX_DIR is set; never in production.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import tempfile
import threading
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from flask import Blueprint, abort, current_app, render_template
from markupsafe import Markup, escape

URL_RE = re.compile(r"https?://[^\s<>\"]+")
NAME_RE = re.compile(r"^[0-9]{20}-[0-9]{6}\.eml$")


def read_message(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        return BytesParser(policy=policy.default).parse(handle)


def text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


class MailboxHandler:
    """aiosmtpd handler: store each message as a .eml file and print a summary."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        name = f"{time.time_ns():020d}-{self.count % 1_000_000:06d}.eml"
        with tempfile.NamedTemporaryFile(dir=self.folder, delete=False, suffix=".tmp") as tmp:
            tmp.write(cast(bytes, envelope.content))  # bytes: the Controller does not decode
        os.replace(tmp.name, self.folder / name)
        message = read_message(self.folder / name)
        print(f"\n--- mail for {', '.join(envelope.rcpt_tos)}: {message['Subject']}", flush=True)
        for url in URL_RE.findall(text_body(message)):
            print(f"    link: {url}", flush=True)
        return "250 Message accepted"


def run_sink(host: str, port: int, folder: str) -> None:
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    # aiosmtpd logs every SMTP command, and its own start-up probe ("EOF received",
    # "Connection lost"), at INFO: the summary printed per message is what a reader needs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = Controller(MailboxHandler(path), hostname=host, port=port)
    controller.start()
    print(f"mail sink listening on {host}:{port}, keeping mail in {path}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # The kernel may hand a signal to the SMTP thread, and Python runs the handler only when
    # the main thread runs: a wait without an end could then miss SIGTERM forever.
    while not stop.wait(0.5):
        pass
    controller.stop()


bp = Blueprint("devmail", __name__, url_prefix="/dev/mailbox")


def _folder() -> Path:
    return Path(current_app.config["DEV_MAILBOX_DIR"])


def _linkify(text: str) -> Markup:
    escaped = str(escape(text))
    # Safe: the text is escaped first, and URL_RE matches no quote or angle bracket.
    linked = URL_RE.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
    return Markup(linked)  # noqa: S704


@bp.get("/")
def index() -> str:
    folder = _folder()
    names = (
        sorted((p.name for p in folder.glob("*.eml")), reverse=True)[:100]
        if folder.is_dir()
        else []
    )
    messages = [(name, read_message(folder / name)) for name in names]
    return render_template("dev/mailbox.html", messages=messages)


@bp.get("/<name>")
def show(name: str) -> str:
    path = _folder() / name
    if not NAME_RE.match(name) or not path.is_file():
        abort(404)
    message = read_message(path)
    return render_template("dev/message.html", message=message, body=_linkify(text_body(message)))
