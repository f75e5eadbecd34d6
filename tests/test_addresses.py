"""Parsing what senders and operators type as addresses and ranges."""

import ipaddress
import random
import re

import pytest

from app.listing.addresses import (
    AddressError,
    containing_keys,
    network_key,
    parse_address,
    parse_network,
    parse_network_key,
    parse_sender_address,
)


def random_ipv4_network(rng: random.Random, prefix_len: int) -> ipaddress.IPv4Network:
    value = rng.getrandbits(32) >> (32 - prefix_len) << (32 - prefix_len) if prefix_len else 0
    return ipaddress.IPv4Network((value, prefix_len))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("  203.0.113.7\t", "203.0.113.7"),
        ("[203.0.113.7]", "203.0.113.7"),
        ("2001:DB8:0:0::7", "2001:db8::7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_one_address_is_accepted_and_normalised(bare_app, text, expected):
    with bare_app.test_request_context():
        assert str(parse_sender_address(text, allow_non_global=True)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter the IP address"),
        ("203.0.113.0/24", "not a range"),
        ("203.0.113.7, 203.0.113.8", "one IP address only"),
        ("203.0.113.7 203.0.113.8", "one IP address only"),
        ("mail.example.com", "not a host name"),
        ("203.0.113.256", "not a host name"),
        ("fe80::1%eth0", "zone index"),
    ],
)
def test_anything_but_one_address_is_refused(bare_app, text, message):
    with bare_app.test_request_context(), pytest.raises(AddressError, match=message):
        parse_sender_address(text, allow_non_global=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.1.2.3", "private address"),
        ("192.168.0.10", "private address"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.0.5", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.5", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("203.0.113.7", "documentation"),
        ("100.64.0.1", "not used on the public internet"),
    ],
)
def test_addresses_that_cannot_be_a_public_mail_server_are_explained(bare_app, text, message):
    with bare_app.test_request_context(), pytest.raises(AddressError, match=message):
        parse_sender_address(text)
    with bare_app.test_request_context():
        assert parse_sender_address(text, allow_non_global=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.51.100.7", "198.51.100.7/32"),
        ("192.0.2.0/24", "192.0.2.0/24"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:db8::7", "2001:db8::7/128"),
    ],
)
def test_operators_list_addresses_or_ranges(bare_app, text, expected):
    with bare_app.app_context():
        assert str(parse_network(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("::ffff:203.0.113.7", "203.0.113.7/32"),
        ("::ffff:203.0.113.0/120", "203.0.113.0/24"),
        ("::ffff:198.51.100.128/121", "198.51.100.128/25"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
    ],
)
def test_ipv4_mapped_range_is_listed_as_ipv4(text, expected):
    assert parse_network(text) == ipaddress.ip_network(expected)


def test_every_ipv4_network_written_as_ipv4_mapped_is_listed_as_itself():
    rng = random.Random(96)
    for prefix_len in range(33):
        network = random_ipv4_network(rng, prefix_len)
        mapped = f"::ffff:{network.network_address}/{96 + prefix_len}"
        assert parse_network(mapped) == network
        assert parse_network_key(mapped) == (str(network), network_key(network))


def test_an_ipv4_sender_is_blocked_by_an_ipv4_mapped_listing():
    listed = parse_network("::ffff:203.0.113.0/120")
    sender = parse_address("203.0.113.7")
    assert containing_keys(sender, [listed.prefixlen]) == [network_key(listed)]


@pytest.mark.parametrize("text", ["::fffe:0:0/95", "64:ff9b::/96", "::203.0.113.7", "::/96"])
def test_ipv6_ranges_beside_the_ipv4_mapped_block_stay_ipv6(text):
    assert parse_network(text) == ipaddress.IPv6Network(text)


def test_an_ipv4_mapped_range_with_host_bits_suggests_the_ipv4_network():
    with pytest.raises(AddressError, match=re.escape("did you mean 203.0.113.0/24?")):
        parse_network("::ffff:203.0.113.5/120")


def test_a_range_with_host_bits_suggests_the_network(bare_app):
    suggestion = re.escape("did you mean 192.0.2.0/24?")
    with bare_app.app_context(), pytest.raises(AddressError, match=suggestion):
        parse_network("192.0.2.5/24")


def test_containing_keys_mask_the_address_to_each_prefix():
    address = ipaddress.ip_address("1.4.127.200")
    keys = containing_keys(address, [32, 17, 0])
    assert [k.net_start for k in keys] == [
        bytes([1, 4, 127, 200]),
        bytes([1, 4, 0, 0]),
        bytes(4),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "203.0.113.7",
        "0.0.0.0/0",
        "255.255.255.255/32",
        "10.0.0.0/8",
        "192.0.2.128/25",
        "100.64.0.0/10",
        "2001:db8::/32",
        "::ffff:203.0.113.7",
        "::ffff:203.0.113.0/120",
        "[198.51.100.9]",
    ],
)
def test_the_fast_import_reading_agrees_with_parse_network(text):
    network = parse_network(text)
    assert parse_network_key(text) == (str(network), network_key(network))


def test_the_fast_import_reading_agrees_on_random_networks():
    rng = random.Random(5)
    for _ in range(5000):
        prefix_len = rng.randint(0, 32)
        value = rng.getrandbits(32) >> (32 - prefix_len) << (32 - prefix_len) if prefix_len else 0
        network = ipaddress.ip_network((value, prefix_len))
        for text in (str(network), str(network.network_address) if prefix_len == 32 else None):
            if text:
                assert parse_network_key(text) == (str(network), network_key(network))


@pytest.mark.parametrize(
    "text",
    [
        "01.2.3.4",
        "1.2.3.4/33",
        "256.1.1.1",
        "192.0.2.1/24",
        "1.2.3",
        "1.2.3.4/",
        "::ffff:203.0.113.5/120",
        "",
    ],
)
def test_the_fast_import_reading_refuses_what_parse_network_refuses(text):
    with pytest.raises(AddressError) as fast:
        parse_network_key(text)
    with pytest.raises(AddressError) as slow:
        parse_network(text)
    assert str(fast.value) == str(slow.value)
