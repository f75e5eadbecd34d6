"""The Postfix policy service: protocol, answers from the index, refresh, robustness."""

import ipaddress
import logging
import socket
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.actor import Actor
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.policy import index as policy_index
from app.policy import server as policy
from app.policy.check import policy_request
from app.policy.index import ListIndex
from tests.helpers import T0, running_policy_server

REJECT = (
    b"action=550 5.7.606 Access denied, banned sending IP [%s]. To request removal from this "
    b"list please visit https://delist.example.test/ and follow the directions.\n\n"
)


def request(address: str, **extra) -> bytes:
    """What Postfix sends, with the attributes a real smtpd adds."""
    defaults = {"helo_name": "mail.example.org", "instance": "123.456.7"}
    return policy_request(address, **{**defaults, **extra})


class TestListIndex:
    def key(self, text):
        network = ipaddress.ip_network(text)
        return (network.version, network.prefixlen, int(network.network_address))

    def test_most_specific_entry_and_nested_ranges(self):
        index = ListIndex()
        index.put(1, self.key("10.0.0.0/8"), None)
        index.put(2, self.key("10.1.2.3/32"), None)
        assert index.lookup(ipaddress.ip_address("10.1.2.3"), 0) == 2
        assert index.lookup(ipaddress.ip_address("10.9.9.9"), 0) == 1
        assert index.lookup(ipaddress.ip_address("11.0.0.0"), 0) is None

    def test_ipv6_and_ipv4_are_kept_apart(self):
        index = ListIndex()
        index.put(1, self.key("2001:db8::/32"), None)
        assert index.lookup(ipaddress.ip_address("2001:db8:ffff::1"), 0) == 1
        assert index.lookup(ipaddress.ip_address("32.1.13.184"), 0) is None

    def test_scheduled_removal_is_honoured_at_its_time(self):
        index = ListIndex()
        index.put(1, self.key("10.0.0.0/8"), None)
        index.put(2, self.key("10.1.2.3/32"), 1000.0)
        address = ipaddress.ip_address("10.1.2.3")
        assert index.lookup(address, 999.9) == 2
        assert index.lookup(address, 1000.0) == 1  # the range still lists it

    def test_discard_only_removes_the_same_listing(self):
        index = ListIndex()
        index.put(7, self.key("192.0.2.1/32"), None)
        index.discard(6, self.key("192.0.2.1/32"))  # an older row of the same network
        assert len(index) == 1
        index.discard(7, self.key("192.0.2.1/32"))
        assert len(index) == 0


def add(text, now=T0):
    result = blocklist.add_listing(parse_network(text), "spam", actor=Actor("t"), now=now)
    db.session.commit()
    return result.listing


def test_index_follows_the_database_incrementally(ctx, time_machine):
    add("203.0.113.7")
    snapshot = policy_index.build(T0)
    index = snapshot.index
    assert index.lookup(ipaddress.ip_address("203.0.113.7"), T0.timestamp()) is not None

    later = T0 + timedelta(seconds=10)
    add("198.51.100.0/24", now=later)
    blocklist.remove_listing(parse_network("203.0.113.7"), actor=Actor("t"), now=later)
    db.session.commit()
    assert policy_index.refresh(snapshot, later) == 2
    assert index.lookup(ipaddress.ip_address("198.51.100.50"), later.timestamp()) is not None
    assert index.lookup(ipaddress.ip_address("203.0.113.7"), later.timestamp()) is None

    # Listed again as a new row: the old row's removal must not hide it.
    again = T0 + timedelta(seconds=20)
    add("203.0.113.7", now=again)
    policy_index.refresh(snapshot, again)
    assert index.lookup(ipaddress.ip_address("203.0.113.7"), again.timestamp()) is not None


@pytest.fixture
def server(app):
    """A policy server on a free loopback port, stopped after the test."""
    with app.app_context():
        add("203.0.113.7")
        add("192.0.2.0/24")
        add("2001:db8::7")
    with running_policy_server(app) as srv:
        yield srv


def connect(srv) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    return sock


def ask(sock, payload: bytes) -> bytes:
    sock.sendall(payload)
    reply = b""
    while not reply.endswith(b"\n\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def test_listed_client_is_rejected_with_the_portal_address(server):
    with connect(server) as sock:
        assert ask(sock, request("203.0.113.7")) == REJECT % b"203.0.113.7"
        assert ask(sock, request("192.0.2.200")) == REJECT % b"192.0.2.200"
        assert ask(sock, request("2001:db8::7")) == REJECT % b"2001:db8::7"
        assert ask(sock, request("203.0.113.8")) == b"action=DUNNO\n\n"
        assert ask(sock, request("unknown")) == b"action=DUNNO\n\n"


def test_many_requests_on_one_connection_and_pipelined(server):
    with connect(server) as sock:
        sock.sendall(request("203.0.113.7") + request("198.51.100.1") * 2)
        expected = REJECT % b"203.0.113.7" + b"action=DUNNO\n\n" * 2
        reply = b""
        while len(reply) < len(expected):
            reply += sock.recv(4096)
        assert reply == expected


def test_many_connections_at_once(server):
    sockets = [connect(server) for _ in range(50)]
    try:
        for sock in sockets:
            assert ask(sock, request("203.0.113.7")) == REJECT % b"203.0.113.7"
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize(
    "payload",
    [
        b"this is not a policy request\n\n",
        b"request=something_else\nclient_address=203.0.113.7\n\n",
        b"=value\n\n",
    ],
)
def test_malformed_request_gets_dunno_and_the_connection_keeps_working(server, payload):
    with connect(server) as sock:
        assert ask(sock, payload) == b"action=DUNNO\n\n"
        assert ask(sock, request("203.0.113.7")) == REJECT % b"203.0.113.7"
    assert server.service.malformed == 1


@pytest.mark.parametrize("app_overrides", [{"POLICY_MALFORMED_ACTION": "DEFER_IF_PERMIT"}])
def test_malformed_action_is_configurable(server):
    with connect(server) as sock:
        assert ask(sock, b"garbage\n\n") == b"action=DEFER_IF_PERMIT\n\n"


def test_oversized_request_is_answered_and_closed(server):
    with connect(server) as sock:
        sock.sendall(b"x=" + b"a" * (policy.MAX_REQUEST_BYTES + 10))
        assert ask(sock, b"") == b"action=DUNNO\n\n"
        assert sock.recv(10) == b""  # closed by the server
    with connect(server) as sock:  # and the server is fine
        assert ask(sock, request("203.0.113.7")) == REJECT % b"203.0.113.7"


@pytest.mark.parametrize("app_overrides", [{"POLICY_REQUEST_TIMEOUT_SECONDS": 1}])
def test_stalled_client_is_timed_out(server):
    with connect(server) as sock:
        sock.sendall(b"request=smtpd_access_policy\n")  # and then nothing
        sock.settimeout(5)
        started = time.monotonic()
        assert sock.recv(10) == b""
        assert time.monotonic() - started < 4


def test_changes_reach_the_server_within_a_refresh(app, server, time_machine):
    later = T0 + timedelta(seconds=30)
    time_machine.move_to(later, tick=False)
    with app.app_context():
        add("198.51.100.9", now=later)
        blocklist.remove_listing(parse_network("203.0.113.7"), actor=Actor("t"), now=later)
        db.session.commit()
    server.refresh_once()
    with connect(server) as sock:
        assert ask(sock, request("198.51.100.9")) == REJECT % b"198.51.100.9"
        assert ask(sock, request("203.0.113.7")) == b"action=DUNNO\n\n"


def test_database_outage_keeps_the_last_index_and_recovers(app, server, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="delist.policy")

    def unreachable(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    real_refresh = policy_index.refresh
    monkeypatch.setattr(policy_index, "refresh", unreachable)
    server.refresh_once()
    server.refresh_once()
    with connect(server) as sock:
        assert ask(sock, request("203.0.113.7")) == REJECT % b"203.0.113.7"
    outage_lines = [r for r in caplog.records if "database unreachable" in r.message]
    assert len(outage_lines) == 1  # once per outage, not once per refresh
    monkeypatch.setattr(policy_index, "refresh", real_refresh)
    server.refresh_once()
    assert any("database reachable again" in r.message for r in caplog.records)
    assert server.database_down_since is None


@pytest.mark.parametrize(
    "app_overrides",
    [{"POLICY_REJECT_CODE": "554 5.7.1", "POLICY_REJECT_TEXT": "Blocked {ip}; see {url}"}],
)
def test_reject_code_and_text_are_configurable(server):
    with connect(server) as sock:
        assert ask(sock, request("203.0.113.7")) == (
            b"action=554 5.7.1 Blocked 203.0.113.7; see https://delist.example.test/\n\n"
        )


@pytest.mark.parametrize(
    "app_overrides",
    [{"POLICY_REJECT_TEXT": "Access denied, banned sending IP [{ip}]. See {lookup_url}"}],
)
def test_the_reject_text_can_link_straight_to_the_lookup_of_the_refused_address(server, client):
    with connect(server) as sock:
        assert ask(sock, request("203.0.113.7")) == (
            b"action=550 5.7.606 Access denied, banned sending IP [203.0.113.7]. "
            b"See https://delist.example.test/lookup?ip=203.0.113.7\n\n"
        )
        reply = ask(sock, request("2001:db8::7"))
    assert reply.endswith(b"See https://delist.example.test/lookup?ip=2001:db8::7\n\n")
    page = client.get("/lookup?ip=2001:db8::7")  # the link leads to the address's listing
    assert page.status_code == 200 and "2001:db8::7" in page.text


def test_a_placeholder_the_reject_text_cannot_fill_stops_the_start():
    import config
    from tests.helpers import BASE_CONFIG

    with pytest.raises(config.ConfigError, match=r"\{ip\}, \{url\} and \{lookup_url\} work"):
        config.load({**BASE_CONFIG, "POLICY_REJECT_TEXT": "See {lookup}"}, environ={})


def test_ipv4_mapped_client_address_is_looked_up_as_ipv4(server):
    with connect(server) as sock:
        assert ask(sock, request("::ffff:203.0.113.7")) == REJECT % b"203.0.113.7"


def test_random_garbage_never_takes_the_server_down(server):
    import random

    rng = random.Random(5)
    for _ in range(30):
        with connect(server) as sock:
            garbage = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 3000)))
            try:
                sock.sendall(garbage + b"\n\n")
                sock.settimeout(2)
                sock.recv(4096)
            except OSError:
                pass  # the server may close a connection it cannot make sense of
    with connect(server) as sock:
        assert ask(sock, request("203.0.113.7")) == REJECT % b"203.0.113.7"


def test_rfc5782_test_addresses_get_their_fixed_answers_whatever_the_list_holds(server):
    # The list holds neither: 127.0.0.2 is refused all the same.
    with connect(server) as sock:
        assert ask(sock, request("127.0.0.2")) == REJECT % b"127.0.0.2"
        assert ask(sock, request("::ffff:7f00:2")) == REJECT % b"127.0.0.2"
        assert ask(sock, request("127.0.0.1")) == b"action=DUNNO\n\n"
    # A range holding 127.0.0.1 (no path lists one; a copy could be wrong): still let through.
    loopback = ipaddress.ip_network("127.0.0.0/8")
    server.service.snapshot.index.put(999, (4, 8, int(loopback.network_address)), None)
    with connect(server) as sock:
        assert ask(sock, request("127.0.0.3")) == REJECT % b"127.0.0.3"  # the range is in force
        assert ask(sock, request("127.0.0.1")) == b"action=DUNNO\n\n"
        assert ask(sock, request("::ffff:7f00:1")) == b"action=DUNNO\n\n"


def test_check_passes_against_a_running_policy_server(app, server):
    result = app.test_cli_runner().invoke(
        args=["policy-server", "--check", f"127.0.0.1:{server.port}"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"policy service at 127.0.0.1:{server.port}: 127.0.0.2 refused, 127.0.0.1 let through: OK\n"
    )


def test_a_change_is_logged_once_though_read_again_within_the_overlap(app, server, caplog):
    caplog.set_level(logging.INFO, logger="delist.policy")
    with app.app_context():
        add("198.51.100.9")
    for _ in range(3):  # each refresh reads the last REFRESH_OVERLAP again
        server.refresh_once()
    refreshed = [r.getMessage() for r in caplog.records if "index refreshed" in r.getMessage()]
    assert refreshed == ["index refreshed: 1 changed listings"]
