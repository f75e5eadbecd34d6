"""What tests share besides fixtures: settings, the start time, sending the forms, running
servers and the worker, reading pages. Fixtures stay in conftest.py and use these."""

from __future__ import annotations

import re
import socket
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller

from app.core.actor import Actor
from app.extensions import db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-0123456789abcdef",
    "PUBLIC_BASE_URL": "https://delist.example.test",
    "DELIST_ALLOW_NON_GLOBAL_IPS": True,
    "DELIST_DELAY_SECONDS": 3600,
    "CONFIRM_TOKEN_MAX_AGE_SECONDS": 86400,
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_TIMEOUT_SECONDS": 5,
    "MAIL_RETRY_BASE_SECONDS": 60,
    "CHALLENGE_ENABLED": False,  # its own tests switch it on
}


def add_listings(app, *networks: str, reason: str = "Spam", permanent: bool = False) -> None:
    """List these addresses or ranges, as an operator would, at T0. Servers that run on
    the real clock (a browser's portal, a policy server in a process of its own) need
    `permanent`: a listing of T0 with the default lifetime has expired by today."""
    from app.listing import blocklist, lifetimes
    from app.listing.addresses import parse_network

    lifetime = lifetimes.PERMANENT if permanent else lifetimes.DEFAULT
    with app.app_context():
        for text in networks:
            network = parse_network(text)
            blocklist.add_listing(network, reason, actor=Actor("test"), now=T0, lifetime=lifetime)
        db.session.commit()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a loopback port, keeping what it receives."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # as received, for checks that need the exact bytes
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            self.messages.append(message)
            self.raw.append(envelope.content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CONFIRM_LINK_RE = re.compile(r"https://delist\.example\.test/confirm/[A-Za-z0-9_.\-]+")


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def submit_form(client, email: str, ip: str, **headers):
    """Load the form and send it, as a browser would."""
    page = client.get("/", headers=headers)
    return client.post(
        "/", data={"csrf_token": csrf_token(page.text), "email": email, "ip": ip}, headers=headers
    )


def press_delist(client, link: str):
    """Open the emailed link and press Delist IP."""
    path = link.removeprefix("https://delist.example.test")
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf_token": csrf_token(page.text)})


@contextmanager
def running_policy_server(app, name: str | None = None):
    """A policy server for `app` on a free loopback port, in a thread, stopped afterwards."""
    from app.policy.server import PolicyServer

    server = PolicyServer(app, "127.0.0.1", 0, name=name)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.ready.wait(30), "policy server did not start"
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=10)


def run_at_once(action, argument_lists, timeout: float = 60) -> list:
    """Call `action` with each argument list in its own thread, all released together."""
    barrier = threading.Barrier(len(argument_lists))
    results = []

    def run(args):
        barrier.wait()
        results.append(action(*args))

    threads = [threading.Thread(target=run, args=(args,)) for args in argument_lists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results


def run_worker(app):
    """One pass of the worker for `app`, as `flask worker --once` runs it."""
    from app.cli import worker
    from app.core.clock import utcnow

    with app.app_context():
        return worker.run_once(utcnow())


def page_text(response) -> str:
    """The visible text of a page, with white space folded (inline times stay in their
    sentence)."""
    text = re.sub(r"</?time[^>]*>", "", response.text)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))
