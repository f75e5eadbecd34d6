"""Parsing what senders and operators type as addresses and ranges."""

import ipaddress
import random
import re

import pytest

from app.listing import addresses
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


def refusal(app, text: str, language: str = "en") -> str:
    """What a sender who typed `text` is told, in `language`."""
    with app.test_request_context("/", headers={"Accept-Language": language}):
        with pytest.raises(AddressError) as refused:
            parse_sender_address(text)
        return str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("  203.0.113.7\t", "203.0.113.7"),
        ("[203.0.113.7]", "203.0.113.7"),
        ("[ 2001:db8::7 ]", "2001:db8::7"),
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


@pytest.mark.parametrize("text", ["12.2.3.4]", "[12.2.3.4", "203.0.113.7]", "[203.0.113.7"])
def test_an_address_with_half_a_pair_of_brackets_is_refused(bare_app, text):
    with bare_app.test_request_context(), pytest.raises(AddressError, match="not a host name"):
        parse_sender_address(text, allow_non_global=True)
    with pytest.raises(AddressError, match="is not an IP address or CIDR range"):
        parse_network(text)


@pytest.mark.parametrize("separator", [",", ";", " ", "\t", "\n", ", ", ";\n"])
def test_two_addresses_in_one_field_are_refused(bare_app, separator):
    with bare_app.test_request_context(), pytest.raises(AddressError, match="one IP address only"):
        parse_sender_address(f"203.0.113.7{separator}203.0.113.8", allow_non_global=True)


def test_a_range_where_one_address_is_expected_is_named_in_the_refusal(bare_app):
    for language in ("en", "ja"):
        assert refusal(bare_app, "203.0.113.0/24", language).endswith("203.0.113.0/24")


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
    assert message in refusal(bare_app, text)
    with bare_app.test_request_context():
        assert parse_sender_address(text, allow_non_global=True)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "203.0.113.0/24",
        "203.0.113.7;203.0.113.8",
        "mail.example.com",
        "fe80::1%eth0",
        "10.1.2.3",
        "127.0.0.1",
        "fe80::1",
        "224.0.0.5",
        "0.0.0.0",
        "203.0.113.7",
        "100.64.0.1",
    ],
)
def test_what_a_sender_is_told_is_in_their_language(bare_app, text):
    # A message that lost its catalog entry would come out in English.
    assert refusal(bare_app, text, "ja") != refusal(bare_app, text, "en")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.51.100.7", "198.51.100.7/32"),
        ("192.0.2.0/24", "192.0.2.0/24"),
        ("[198.51.100.7]", "198.51.100.7/32"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:db8::7", "2001:db8::7/128"),
    ],
)
def test_operators_list_addresses_or_ranges(text, expected):
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


def test_a_range_with_host_bits_suggests_the_network():
    suggestion = re.escape("192.0.2.5/24 has host bits set; did you mean 192.0.2.0/24?")
    with pytest.raises(AddressError, match=f"^{suggestion}$"):
        parse_network("192.0.2.5/24")


def test_an_ipv4_mapped_range_with_host_bits_suggests_the_ipv4_network():
    with pytest.raises(AddressError, match=re.escape("did you mean 203.0.113.0/24?")):
        parse_network("::ffff:203.0.113.5/120")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "enter an address or a CIDR range"),
        (" [ ] ", "enter an address or a CIDR range"),
        ("mail.example.com", "'mail.example.com' is not an IP address or CIDR range"),
        ("192.0.2.0/33", "'192.0.2.0/33' is not an IP address or CIDR range"),
    ],
)
def test_what_is_not_a_range_is_refused_with_what_was_typed(text, message):
    with pytest.raises(AddressError) as refused:
        parse_network(text)
    assert str(refused.value) == message


def test_containing_keys_mask_the_address_to_each_prefix():
    address = ipaddress.ip_address("1.4.127.200")
    keys = containing_keys(address, [32, 17, 0])
    assert [k.net_start for k in keys] == [
        bytes([1, 4, 127, 200]),
        bytes([1, 4, 0, 0]),
        bytes(4),
    ]


@pytest.mark.parametrize(
    ("address_type", "bits"), [(ipaddress.IPv4Address, 32), (ipaddress.IPv6Address, 128)]
)
def test_containing_keys_are_the_keys_of_the_networks_around_the_address(address_type, bits):
    rng = random.Random(bits)
    prefix_lens = list(range(bits + 1))
    for _ in range(50):
        address = address_type(rng.getrandbits(bits))
        around = ipaddress.ip_network(address)
        expected = [network_key(around.supernet(new_prefix=p)) for p in prefix_lens]
        assert containing_keys(address, prefix_lens) == expected


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
        network = random_ipv4_network(rng, rng.randint(0, 32))
        texts = [str(network)]
        if network.prefixlen == 32:
            texts.append(str(network.network_address))
        for text in texts:
            assert parse_network_key(text) == (str(network), network_key(network))


@pytest.mark.parametrize(
    "text", ["203.0.113.7", "0.0.0.0/0", "192.0.2.0/24", "198.51.100.128/25", "10.0.0.0/8"]
)
def test_plain_ipv4_is_imported_without_the_general_parser(monkeypatch, text):
    network = parse_network(text)

    def general_parser(text):
        raise AssertionError(f"{text} took the slow path")

    monkeypatch.setattr(addresses, "parse_network", general_parser)
    assert parse_network_key(text) == (str(network), network_key(network))


@pytest.mark.parametrize(
    "text",
    [
        "01.2.3.4",
        "1.2.3.4/33",
        "256.1.1.1",
        "192.0.2.1/24",
        "10.0.0.2/24",
        "192.0.2.128/24",
        "1.2.3",
        "1.2.3.4/",
        "12.2.3.4]",
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


def test_a_network_with_a_zone_index_is_refused_like_an_address_with_one():
    with pytest.raises(AddressError, match="zone index"):
        parse_network("fe80::1%eth0")
    with pytest.raises(AddressError):
        parse_address("fe80::1%eth0")


def test_the_broadcast_address_is_refused_as_what_it_is():
    with pytest.raises(AddressError) as refused:
        parse_sender_address("255.255.255.255")
    assert str(refused.value) == (
        "This is the broadcast address of a local network; mail servers never send from it."
    )
