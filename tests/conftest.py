"""Fixtures: an app on SQLite (always) and PostgreSQL (with TEST_DATABASE_URL), a real SMTP sink."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.accounts import api_keys
from app.core.actor import Actor
from app.extensions import db, limiter
from tests.helpers import BASE_CONFIG, T0, SmtpSink, free_port
from tests.helpers_database import server_engine

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


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
    admin = server_engine(TEST_DATABASE_URL)  # creates the database it names when missing
    server = admin.url
    name = f"delist_test_{os.getpid()}_{secrets.token_hex(3)}"
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


@pytest.fixture
def smtp_sink(app):
    """A running SMTP sink on the port the app sends to."""
    sink = SmtpSink(app.config["MAIL_PORT"])
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright, shared by the browser tests (helpers_browser.py)."""
    from playwright.sync_api import sync_playwright

    from tests.helpers_browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def portal(database_url, tmp_path):
    """The portal under gunicorn (challenge on), a real SMTP sink, one listing: 203.0.113.7,
    speaking as an operator with its own name and logo."""
    from tests.helpers_browser import branded, portal_with_mail

    with portal_with_mail(
        database_url,
        "203.0.113.7",
        branding=branded(tmp_path / "theme"),
        CHALLENGE_ENABLED="true",
        RATELIMIT_ENABLED="false",
    ) as running:
        yield running


@pytest.fixture
def keys(app) -> dict[str, str]:
    """API keys by name: trap-feed (write), mirror (read), both revocable."""
    made = {}
    with app.app_context():
        for name, scopes in (("trap-feed", ["listings:write"]), ("mirror", ["listings:read"])):
            _, made[name] = api_keys.create(name, scopes, actor=Actor("test"), now=T0)
        db.session.commit()
    return made


@pytest.fixture
def limit_on_every_page():
    """A default limit of two requests an hour on every view without its own exemption."""
    yield {"RATELIMIT_DEFAULT": "2 per hour"}
    limiter.limit_manager.set_default_limits([])  # the limiter outlives this test's app
