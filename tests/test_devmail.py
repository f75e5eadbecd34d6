"""The demo's local mail sink and its mailbox page: mail from the worker, readable in a browser."""

import re

import pytest
from aiosmtpd.controller import Controller

from app.cli import worker
from app.core.clock import utcnow
from app.mail.devmail import MailboxHandler
from tests.helpers import add_listings, page_text, submit_form


@pytest.fixture
def app_overrides(tmp_path):
    return {"DEV_MAILBOX_DIR": str(tmp_path / "mailbox")}


def test_the_mailbox_shows_the_mail_the_worker_sent_with_a_working_link(app, client, tmp_path):
    folder = tmp_path / "mailbox"
    folder.mkdir()
    sink = Controller(MailboxHandler(folder), hostname="127.0.0.1", port=app.config["MAIL_PORT"])
    sink.start()
    try:
        add_listings(app, "203.0.113.7")
        submit_form(client, "sender@example.com", "203.0.113.7")
        with app.app_context():
            assert worker.run_once(utcnow()).delivery.sent == 1
    finally:
        sink.stop()
    [stored] = list(folder.glob("*.eml"))
    mailbox = client.get("/dev/mailbox/")
    assert "Confirm the removal of 203.0.113.7" in page_text(mailbox)
    assert 'name="lang"' not in mailbox.text  # a demo tool, in English only
    message = client.get(f"/dev/mailbox/{stored.name}")
    [link] = re.findall(r'<a href="(https://delist\.example\.test/confirm/[^"]+)">', message.text)
    assert client.get(link.removeprefix("https://delist.example.test")).status_code == 200


@pytest.mark.parametrize("name", ["../secret.eml", "x.eml", "00000000000000000000-000001.eml"])
def test_only_stored_messages_can_be_opened(client, name):
    assert client.get(f"/dev/mailbox/{name}").status_code == 404
