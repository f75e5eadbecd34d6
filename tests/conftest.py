"""Fixtures: an app on SQLite (always) and PostgreSQL (with TEST_DATABASE_URL), a real SMTP sink."""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask_migrate import upgrade

from app import create_app
from app.core.actor import Actor
from app.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
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


def _migrated(url: str) -> None:
    app = create_app({**BASE_CONFIG, "DATABASE_URL": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


# The SQLite template, built once per process: mutation testing runs many test sessions in
# processes forked from one that has built it already, and the migrations are most of a short
# session's time. Only the process that built it deletes it.
_sqlite_template: tuple[int, str] | None = None


def _remove_template(owner: int, directory: str) -> None:
    if os.getpid() == owner:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template() -> str:
    """A SQLite file built by the migrations, copied for each test."""
    global _sqlite_template
    if _sqlite_template is None or not os.path.exists(_sqlite_template[1]):
        directory = tempfile.mkdtemp(prefix="delist-test-template-")
        path = os.path.join(directory, "template.sqlite3")
        _migrated(f"sqlite:///{path}")
        atexit.register(_remove_template, os.getpid(), directory)
        _sqlite_template = (os.getpid(), path)
    return _sqlite_template[1]


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    """A new PostgreSQL database for this run, built by the migrations, dropped at the end."""
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    server = sa.make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg")
    name = f"delist_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        _migrated(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate(url: str) -> None:
    engine = sa.create_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "delist.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgresql_url")
    _truncate(url)
    return url


@pytest.fixture
def app_overrides() -> dict:
    """Override in a test module, or parametrize, to change settings."""
    return {}


@pytest.fixture
def app(database_url, app_overrides, time_machine):
    time_machine.move_to(T0, tick=False)
    app = create_app(
        {**BASE_CONFIG, "DATABASE_URL": database_url, "MAIL_PORT": free_port(), **app_overrides}
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def bare_app(tmp_path):
    """An app for tests that touch no database (one run, not one per database)."""
    return create_app({**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path}/unused.db"})


@pytest.fixture
def ctx(app):
    """An app context for calling services directly."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a loopback port, keeping what it receives."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_sink(app):
    """A running SMTP sink on the port the app sends to."""
    sink = SmtpSink(app.config["MAIL_PORT"])
    sink.start()
    yield sink
    sink.stop()


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
def running_policy_server(app):
    """A policy server for `app` on a free loopback port, in a thread, stopped afterwards."""
    from app.policy.server import PolicyServer

    server = PolicyServer(app, "127.0.0.1", 0)
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
    """The visible text of a page, with white space folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright, shared by the browser tests (tests/browser.py)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def portal(database_url):
    """The portal under gunicorn (challenge on), a real SMTP sink, one listing: 203.0.113.7."""
    from tests.browser import portal_with_mail

    with portal_with_mail(
        database_url, "203.0.113.7", CHALLENGE_ENABLED="true", RATELIMIT_ENABLED="false"
    ) as running:
        yield running
