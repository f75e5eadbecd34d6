"""The demo's local mail sink and its mailbox page: mail from the worker, readable in a browser."""

import os
import re
import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

import config
from app.cli import worker
from app.core.clock import utcnow
from app.mail.devmail import MailboxHandler
from tests.helpers import add_listings, free_port, page_text, submit_form


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


def test_the_sink_prints_one_summary_per_mail_and_no_smtp_chatter(tmp_path):
    port = free_port()
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "mail-sink",
            "--listen",
            f"127.0.0.1:{port}",
            "--mailbox",
            str(tmp_path / "mailbox"),
        ],
        cwd=config.PROJECT_ROOT,
        env={
            **os.environ,
            "SECRET_KEY": "k" * 40,
            "PUBLIC_BASE_URL": "http://127.0.0.1:1",
            "DATABASE_URL": f"sqlite:///{tmp_path}/unused.db",
            "LOG_LEVEL": "INFO",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "mail sink listening" in sink.stdout.readline()
        message = EmailMessage()
        message["Subject"] = "Hello"
        message.set_content("See https://delist.example.test/x")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(message, "a@example.test", ["b@example.test"])
    finally:
        sink.send_signal(signal.SIGTERM)
        out, err = sink.communicate(timeout=30)
    assert sink.returncode == 0
    assert out == (
        "\n--- mail for b@example.test: Hello\n    link: https://delist.example.test/x\n"
    )
    assert err == ""  # no "EOF received", "Connection lost" or a line per SMTP command
