"""End to end with the real software: Postfix asks our policy server, rbldnsd serves our zone."""

import ipaddress
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest

from app.cli import worker
from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.listing import blocklist, exports
from app.listing.addresses import parse_network
from tests.helpers import (
    CONFIRM_LINK_RE,
    T0,
    free_port,
    press_delist,
    running_policy_server,
    submit_form,
)
from tests.helpers_mta import Postfix, Rbldnsd, public_folder, swaks


@pytest.fixture
def policy_server(app):
    with running_policy_server(app) as srv:
        yield srv


@pytest.fixture
def postfix(policy_server):
    instance = Postfix(free_port(), policy_server.port)
    instance.start()
    yield instance
    instance.stop()


def list_address(app, text):
    with app.app_context():
        blocklist.add_listing(parse_network(text), "Spam trap hits", actor=Actor("t"), now=T0)
        db.session.commit()


@pytest.mark.parametrize(
    "app_overrides", [{"DELIST_DELAY_SECONDS": 0, "POLICY_REFRESH_SECONDS": 1}]
)
def test_postfix_refuses_a_listed_sender_until_it_delists_itself(app, client, smtp_sink, request):
    # Not 127.0.0.2: RFC 5782's test entry, refused whatever the list holds.
    list_address(app, "127.0.0.4")
    # The index is loaded at start; a listing added now arrives with the next refresh.
    server = request.getfixturevalue("policy_server")
    server.refresh_once()
    mta = request.getfixturevalue("postfix")

    refused = swaks(mta.smtp_port, "127.0.0.4")
    assert (
        "550 5.7.606 <unknown[127.0.0.4]>: Client host rejected: Access denied, banned sending "
        "IP [127.0.0.4]. To request removal from this list please visit "
        "https://delist.example.test/ and follow the directions." in refused
    ), refused
    assert "250 2.1.5 Ok" in swaks(mta.smtp_port, "127.0.0.3")

    # The sender delists itself through the portal (delay 0).
    submitted = submit_form(client, "postmaster@example.org", "127.0.0.4")
    assert "Check your inbox" in submitted.text, submitted.text
    with app.app_context():
        report = worker.run_once(utcnow())
    assert report.delivery.sent == 1, report
    [link] = CONFIRM_LINK_RE.findall(
        smtp_sink.messages[0].get_body(preferencelist=("plain",)).get_content()
    )
    assert press_delist(client, link).status_code == 303
    delisted = time.monotonic()

    # Accepted within the refresh interval (plus the time one swaks run takes).
    refresh = app.config["POLICY_REFRESH_SECONDS"]
    while "250 2.1.5 Ok" not in (transcript := swaks(mta.smtp_port, "127.0.0.4")):
        assert time.monotonic() - delisted < refresh + 3, f"still refused:\n{transcript}"
        time.sleep(0.2)
    assert "NOQUEUE: reject: RCPT from unknown[127.0.0.4]: 550 5.7.606" in mta.log()


def test_rbldnsd_serves_the_exported_zone(app):
    list_address(app, "127.0.0.5")
    list_address(app, "2001:db8::7")
    list_address(app, "192.0.2.0/24")
    folder = public_folder()
    with app.app_context():
        exports.export("rbldnsd", folder / "bl", utcnow(), app.config)
    port = free_port()
    server = Rbldnsd("bl.example.test", folder / "bl", folder / "bl.ip6", port)
    try:
        answer = _wait_for_dns(port, "2.0.0.127.bl.example.test", "A")
        assert [r.to_text() for r in answer.answer[0]] == ["127.0.0.2"]

        def txt(address):
            name = dns.reversename.from_address(address).relativize(
                dns.reversename.ipv4_reverse_domain
                if ipaddress.ip_address(address).version == 4
                else dns.reversename.ipv6_reverse_domain
            )
            response = _query(port, f"{name}.bl.example.test", "TXT")
            return [r.to_text() for rrset in response.answer for r in rrset]

        texts = txt("127.0.0.5")
        assert texts == [
            '"Listed; to request removal visit https://delist.example.test/lookup?ip=127.0.0.5"'
        ]
        assert "lookup?ip=192.0.2.77" in txt("192.0.2.77")[0]
        assert "lookup?ip=2001:db8::7" in txt("2001:db8::7")[0]
        assert _query(port, "1.0.0.127.bl.example.test", "A").rcode() == dns.rcode.NXDOMAIN
        assert _query(port, "6.0.0.127.bl.example.test", "A").rcode() == dns.rcode.NXDOMAIN
    finally:
        server.stop()


def _query(port, name, rdtype):
    query = dns.message.make_query(name, dns.rdatatype.from_text(rdtype))
    return dns.query.udp(query, "127.0.0.1", port=port, timeout=2)


def _wait_for_dns(port, name, rdtype):
    deadline = time.monotonic() + 15
    while True:
        try:
            return _query(port, name, rdtype)
        except (dns.exception.Timeout, ConnectionRefusedError):
            assert time.monotonic() < deadline, "rbldnsd did not answer"
            time.sleep(0.2)
