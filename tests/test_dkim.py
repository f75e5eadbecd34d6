"""DKIM: the operator's key and DNS record from `flask dkim keygen`, and a signature on
every message the worker sends that a receiver can verify."""

from __future__ import annotations

import stat

import dkim
import pytest
import sqlalchemy as sa

import config
from app.extensions import db
from app.models import OutboxMessage
from tests.helpers import BASE_CONFIG, CONFIRM_LINK_RE, add_listings, run_worker, submit_form
from tests.helpers_mail import dns_stub, keygen


@pytest.fixture
def published(tmp_path):
    """A key made by `flask dkim keygen` and the DNS record it asked us to publish."""
    path, result, records = keygen(tmp_path)
    assert result.exit_code == 0, result.output
    return path, records


@pytest.fixture
def app_overrides(published):
    path, _ = published
    return {
        "DKIM_DOMAIN": "delist.example.test",
        "DKIM_SELECTOR": "mail2026",
        "DKIM_PRIVATE_KEY_FILE": str(path),
    }


def test_keygen_writes_a_private_key_only_its_owner_reads_and_prints_the_record(published):
    path, records = published
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    [(name, text)] = records.items()
    assert name == "mail2026._domainkey.delist.example.test"
    assert text.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")  # a 2048-bit RSA public key


def test_keygen_never_overwrites_a_key(published, tmp_path):
    path, _ = published
    before = path.read_bytes()
    _, result, records = keygen(tmp_path)
    assert result.exit_code == 2
    assert "exists already" in result.output and "Traceback" not in result.output
    assert records == {}
    assert path.read_bytes() == before


@pytest.mark.parametrize("option", ["--domain", "--selector"])
def test_keygen_refuses_a_name_dns_cannot_hold(bare_app, tmp_path, option):
    args = {"--domain": "example.net", "--selector": "mail2026", option: "bad name;"}
    result = bare_app.test_cli_runner().invoke(
        args=["dkim", "keygen", *[x for pair in args.items() for x in pair], "--output", "k.pem"]
    )
    assert result.exit_code == 2
    assert f"{option} 'bad name;'" in result.output


def test_the_delivered_confirmation_verifies_against_the_published_key(
    app, client, smtp_sink, published
):
    _, records = published
    add_listings(app, "203.0.113.7")
    submit_form(client, "sender@example.com", "203.0.113.7")
    assert run_worker(app).delivery.sent == 1
    [raw] = smtp_sink.raw
    assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert b"d=delist.example.test" in raw and b"s=mail2026" in raw
    assert dkim.verify(raw, dnsfunc=dns_stub(records))
    assert max(len(line) for line in raw.splitlines()) <= 78


def test_the_signature_holds_after_the_stored_copy_is_redacted(app, client, smtp_sink, published):
    """What is signed is what was sent, link included; blanking the link in our stored
    copy afterwards changes nothing the receiver checks. Had we signed (or sent) the
    redacted copy, the mail would carry no link; and a message altered to match the
    stored copy no longer verifies."""
    _, records = published
    add_listings(app, "203.0.113.7")
    submit_form(client, "sender@example.com", "203.0.113.7")
    run_worker(app)
    with app.app_context():
        stored = db.session.scalar(sa.select(OutboxMessage))
        assert stored.secret is None and not CONFIRM_LINK_RE.search(stored.body_text)
    [raw] = smtp_sink.raw
    text = smtp_sink.messages[0].get_body(preferencelist=("plain",)).get_content()
    token = CONFIRM_LINK_RE.search(text).group(0).rpartition("/")[2]
    assert token.encode() in raw
    assert dkim.verify(raw, dnsfunc=dns_stub(records))
    as_stored = raw.replace(token.encode(), b"[link removed after delivery]")
    assert not dkim.verify(as_stored, dnsfunc=dns_stub(records))


def test_a_key_nobody_published_does_not_verify(app, client, smtp_sink, tmp_path):
    (tmp_path / "other").mkdir()
    _, _, other_records = keygen(tmp_path / "other")
    add_listings(app, "203.0.113.7")
    submit_form(client, "sender@example.com", "203.0.113.7")
    run_worker(app)
    assert not dkim.verify(smtp_sink.raw[0], dnsfunc=dns_stub(other_records))


def test_without_dkim_settings_mail_goes_unsigned(bare_app):
    assert bare_app.config["DKIM_PRIVATE_KEY"] is None


def key_settings(path) -> dict:
    return {"DKIM_DOMAIN": "example.net", "DKIM_SELECTOR": "s1", "DKIM_PRIVATE_KEY_FILE": path}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"DKIM_DOMAIN": "example.net"}, "DKIM signing needs DKIM_SELECTOR, DKIM_PRIVATE_KEY_FILE"),
        ({"DKIM_SELECTOR": "s1", "DKIM_PRIVATE_KEY_FILE": "k.pem"}, "needs DKIM_DOMAIN too"),
        ({**key_settings("/nonexistent/k.pem")}, "cannot read it: No such file or directory"),
        ({**key_settings("{tmp}/not-a-key.pem")}, "not an RSA private key in PEM"),
        ({**key_settings("{tmp}/dkim.pem"), "DKIM_SELECTOR": "a b"}, "DKIM_SELECTOR='a b'"),
    ],
)
def test_incomplete_or_unreadable_dkim_settings_stop_the_start(
    tmp_path, published, settings, message
):
    (tmp_path / "not-a-key.pem").write_text("hello\n")
    settings = {k: v.replace("{tmp}", str(tmp_path)) for k, v in settings.items()}
    with pytest.raises(config.ConfigError, match=message.replace("(", r"\(")):
        config.load({**BASE_CONFIG, **settings}, environ={})
