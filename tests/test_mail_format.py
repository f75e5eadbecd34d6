"""The confirmation mail as strict receivers want it: both parts, short lines, the headers
they look for, nothing that tracks, and a plain From on the operator's own domain."""

from __future__ import annotations

import re
from email import policy
from email.utils import parseaddr, parsedate_to_datetime

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.mail import transport
from app.models import OutboxMessage
from tests.helpers import T0, add_listings, run_worker, submit_form
from tests.helpers_delisting import list_networks, submit
from tests.helpers_mail import keygen

HREF_RE = re.compile(r"""\b(?:href|src|action|background)\s*=\s*["']?([^"'\s>]+)""", re.I)
PORTAL = "https://delist.example.test/"


@pytest.fixture(params=["en", "ja"])
def delivered(request, app, client, smtp_sink):
    """The confirmation mail as the receiving server got it, in each language: (raw, parsed)."""
    add_listings(app, "203.0.113.7")
    submit_form(client, "sender@example.com", "203.0.113.7", **{"Accept-Language": request.param})
    assert run_worker(app).delivery.sent == 1
    [raw], [message] = smtp_sink.raw, smtp_sink.messages
    return raw, message


def test_it_has_a_text_and_an_html_part(delivered):
    _, message = delivered
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())


def test_every_line_is_within_rfc_5322_limits(delivered):
    raw, message = delivered
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 78  # RFC 5322 2.1.1: SHOULD 78, MUST 998
    assert b"\n" not in raw.replace(b"\r\n", b"")  # no bare line feeds
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert max(len(line) for line in text.splitlines() if not line.startswith("https://")) <= 78


def test_it_carries_message_id_date_and_auto_submitted(delivered):
    _, message = delivered
    assert re.fullmatch(r"<[^<>@\s]+@delist\.example\.test>", message["Message-ID"])
    assert parsedate_to_datetime(message["Date"]) == T0
    assert message["Auto-Submitted"] == "auto-generated"  # RFC 3834: no auto-replies
    assert message["MIME-Version"] == "1.0"


def test_nothing_in_it_tracks_or_loads_anything(delivered):
    _, message = delivered
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    for tag in ("<img", "<script", "<link", "<iframe", "<object", "<form", "url("):
        assert tag not in html.lower()
    links = HREF_RE.findall(html)
    assert len(links) == 2  # the Delist IP page and the status page
    for link in [*links, *re.findall(r"https?://\S+", text)]:
        assert link.startswith(PORTAL) and "?" not in link and "utm_" not in link
    assert set(links) <= set(re.findall(r"https?://\S+", text))  # the same links in both


def test_from_is_a_plain_address_on_the_operators_domain(app, delivered, smtp_sink):
    raw, message = delivered
    name, address = parseaddr(message["From"])
    assert (name, address) == ("Delist portal", "no-reply@delist.example.test")
    assert b"\r\nFrom: Delist portal <no-reply@delist.example.test>\r\n" in b"\r\n" + raw
    assert smtp_sink.envelopes[0][0] == address  # the bounce address is the same
    for header in ("Sender", "Reply-To", "Return-Path"):
        assert message[header] is None


@pytest.fixture
def app_overrides(request, tmp_path):
    """No DKIM, unless a test asks for "dkim"."""
    if getattr(request, "param", None) != "dkim":
        return {}
    path, result, _ = keygen(tmp_path)
    assert result.exit_code == 0
    return {
        "DKIM_DOMAIN": "delist.example.test",
        "DKIM_SELECTOR": "mail2026",
        "DKIM_PRIVATE_KEY_FILE": str(path),
    }


@pytest.mark.parametrize("app_overrides", ["dkim"], indirect=True)
def test_with_dkim_the_signature_is_aligned_with_from_and_lines_stay_short(delivered):
    raw, message = delivered
    assert "d=delist.example.test;" in message["DKIM-Signature"]
    assert parseaddr(message["From"])[1].endswith("@delist.example.test")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


BOUNDARY_RE = re.compile(rb"={15}\d+==")


def test_every_message_is_built_byte_for_byte_as_the_standard_registry_builds_it(app, monkeypatch):
    """The mail policy makes each header class, and each header that repeats, only once."""
    ips = [f"203.0.113.{n}" for n in range(1, 5)]
    with app.app_context():
        list_networks(*ips)
        for n, ip in enumerate(ips):
            email = f"sender{n}@例え.jp" if n % 2 else f"s{n}@example.org"
            submit(ip, email=email, locale=("en", "ja")[n % 2])
        db.session.commit()
        messages = db.session.scalars(sa.select(OutboxMessage)).all() * 2
        sender = app.config["MAIL_DEFAULT_SENDER"]

        def built(international: bool) -> list[bytes]:
            mimes = [transport.build_message(message, sender) for message in messages]
            wire = [transport.wire_bytes(mime, international=international) for mime in mimes]
            return [BOUNDARY_RE.sub(b"-", raw) for raw in wire]

        ours = built(False) + built(True)
        monkeypatch.setattr(transport, "MAIL_POLICY", policy.default.clone(max_line_length=76))
        assert ours == built(False) + built(True)
