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
