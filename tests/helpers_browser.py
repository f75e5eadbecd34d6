"""Browser tests' parts: the portal as a real gunicorn process, and Debian's Chromium.

Chromium comes from Debian (`scripts/install-test-tools`), found through
`CHROMIUM_PATH` or on the PATH; Playwright drives it and downloads nothing. Tests
skip where it is missing, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import BASE_CONFIG, SmtpSink, add_listings, free_port
from tests.helpers_mta import require

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", PROJECT_ROOT / "build" / "screenshots"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH") or require("chromium")


# As root, Chromium's sandbox cannot start (these tests load only our own pages); the rest
# keeps it from calling home, which a closed network answers with errors.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def serious_accessibility_problems(page) -> list[str]:
    """axe-core's serious and critical WCAG 2.2 A/AA violations on the page, as lines.

    The page's own CSP forbids injected scripts, so contexts checked with this are
    opened with `bypass_csp=True`.
    """
    if not AXE.exists():
        message = "axe-core is not installed (make test runs npm ci)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA
    )
    return [
        f"{violation['id']} ({violation['impact']}): {node['target']}"
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
        for node in violation["nodes"]
    ]


@contextmanager
def gunicorn_server(
    app_path: str, env: dict, port: int, *, cwd: Path = PROJECT_ROOT, workers: int = 1
) -> Iterator[subprocess.Popen]:
    """gunicorn serving `app_path` on 127.0.0.1:`port` until the block ends.

    Its output goes to a temporary log, shown if it does not start listening.
    """
    with tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False) as handle:
        log = Path(handle.name)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn"),
                *("--workers", str(workers), "--bind", f"127.0.0.1:{port}", app_path),
            ],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log)
        yield process
    finally:
        stop(process)
        log.unlink(missing_ok=True)


def stop(process: subprocess.Popen) -> None:
    """End a server process started by a test, and reap it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()  # reap it, or its Popen warns that it is still running


def wait_for_port(
    port: int, process: subprocess.Popen, log: Path, name: str = "gunicorn", timeout: float = 30
) -> None:
    """Wait until `process` listens on 127.0.0.1:`port`; fail with the end of its `log`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} did not start:\n{_tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen within {timeout} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text()[-3000:] if log.exists() else "(no log)"


@contextmanager
def running_portal(
    database_url: str, mail_port: int, *, workers: int = 1, **settings
) -> Iterator[str]:
    """Serve the portal with gunicorn on a free loopback port; yield its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SECRET_KEY": BASE_CONFIG["SECRET_KEY"],
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mail_port),
        "DELIST_ALLOW_NON_GLOBAL_IPS": "true",
        **{name: str(value) for name, value in settings.items()},
    }
    with gunicorn_server("wsgi:app", env, port, workers=workers):
        yield url


# The operator the browser tests' portal speaks as (the README's screenshots show it).
BRANDING = {
    "PORTAL_TITLE": "Example Mail delist portal",
    "PORTAL_TITLE_JA": "Example Mail 送信拒否リスト 削除申請",
    "OPERATOR_NAME": "Example Mail",
    "OPERATOR_NAME_JA": "例メール株式会社",
    "CONTACT_EMAIL": "postmaster@example.net",
}
LOGO = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40">
<rect width="40" height="40" rx="8" fill="#2da44e"/>
<rect x="8" y="12" width="24" height="17" rx="2" fill="#fff"/>
<path d="M8 13 L20 22 L32 13" fill="none" stroke="#2da44e" stroke-width="2.5"/>
</svg>
"""


def branded(theme: Path) -> dict[str, str]:
    """The operator's settings, with a theme folder holding a logo."""
    (theme / "static").mkdir(parents=True, exist_ok=True)
    (theme / "static" / "logo.svg").write_text(LOGO)
    return {**BRANDING, "THEME_DIR": str(theme)}


@contextmanager
def portal_with_mail(
    database_url: str,
    *listed: str,
    branding: dict[str, str] | None = None,
    workers: int = 1,
    **settings,
):
    """The portal in gunicorn, a real SMTP sink for its mail, and an app to run the worker
    (both with `branding`, so the mails are signed as the pages are)."""
    from app import create_app
    from app.extensions import db

    branding = branding or {}
    app = create_app(
        {**BASE_CONFIG, "DATABASE_URL": database_url, "MAIL_PORT": free_port(), **branding}
    )
    add_listings(app, *listed, permanent=True)
    sink = SmtpSink(app.config["MAIL_PORT"])
    sink.start()
    try:
        with running_portal(
            database_url, app.config["MAIL_PORT"], workers=workers, **branding, **settings
        ) as url:
            yield app, url, sink
    finally:
        sink.stop()
        with app.app_context():
            db.engine.dispose()


def screenshot(page, name: str) -> None:
    """Keep a full-page picture of what the test saw, for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
