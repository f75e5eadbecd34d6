"""Security events are logged as structured lines, with masked emails and client addresses."""

import logging

import pytest

from app.core.actor import Actor
from app.core.security_log import mask_email
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from tests.helpers import T0, csrf_token, submit_form


@pytest.fixture
def security_lines(caplog):
    caplog.set_level(logging.INFO, logger="delist.security")

    def lines():
        return [r.getMessage() for r in caplog.records if r.name == "delist.security"]

    return lines


def test_masking_keeps_the_domain_only():
    assert mask_email("postmaster@example.org") == "p***@example.org"
    assert mask_email("nonsense") == "***"
    assert mask_email(None) is None


def test_submission_mail_and_tokens_are_logged(app, client, security_lines):
    with app.app_context():
        blocklist.add_listing(parse_network("203.0.113.7"), "spam", actor=Actor("t"), now=T0)
        db.session.commit()
    submit_form(client, "postmaster@example.org", "203.0.113.7")
    client.get("/confirm/forged-token")
    lines = security_lines()
    [submission] = [line for line in lines if "event=delist.submission" in line]
    assert "outcome=check_inbox" in submission
    assert "email=p***@example.org" in submission and "postmaster@" not in submission
    assert "client=127.0.0.1" in submission and "ip=203.0.113.7" in submission
    assert any("event=mail.queued" in line and "email=p***@example.org" in line for line in lines)
    assert any("event=token.refused outcome=invalid" in line for line in lines)
    assert all("postmaster@example.org" not in line for line in lines)


@pytest.mark.parametrize("app_overrides", [{"RATE_LIMIT_SUBMIT_PER_ADDRESS": "1 per hour"}])
def test_rate_limit_hits_and_admin_logins_are_logged(app, client, security_lines):
    submit_form(client, "a@example.org", "198.51.100.1")
    submit_form(client, "a@example.org", "198.51.100.1")
    page = client.get("/admin/login")
    client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_token(page.text),
            "email": "who@example.net",
            "password": "wrong-password",
        },
    )
    lines = security_lines()
    assert any("event=rate_limit.hit outcome=refused" in line for line in lines)
    assert any("event=operator.login_failed" in line for line in lines)


def test_lines_leave_the_request_thread_and_none_is_lost_at_exit(tmp_path):
    """Outside tests the lines go through a queue to a thread of their own; stopping it
    (as the process does at exit) writes every queued line, in order."""
    import threading

    from app import create_app
    from app.core import security_log
    from tests.helpers import BASE_CONFIG

    written: list[tuple[str, str]] = []

    class Keep(logging.Handler):
        def emit(self, record):
            written.append((threading.current_thread().name, record.getMessage()))

    root = logging.getLogger()
    keep = Keep(level=logging.INFO)
    saved = root.handlers[:]
    root.handlers[:] = [keep]
    try:
        create_app({**BASE_CONFIG, "TESTING": False, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
        for n in range(5000):
            security_log.event("test.event", n=n)
        security_log.stop_writing_in_background()
    finally:
        security_log.stop_writing_in_background()
        root.handlers[:] = saved
    lines = [message for _, message in written if "event=test.event" in message]
    assert [line.rsplit("n=", 1)[1] for line in lines] == [str(n) for n in range(5000)]
    assert threading.current_thread().name not in {thread for thread, _ in written}
