"""Parsing and normalising IP addresses and networks (IPv4 and IPv6)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple

from flask_babel import lazy_gettext as _l

from app.core.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressError(Invalid):
    """Input that is not an acceptable address; str() is a message for people."""


class NetworkKey(NamedTuple):
    """A network as the fixed-width columns the listing index stores."""

    version: int
    prefix_len: int
    net_start: bytes


def _mapped_ipv4(address: IPAddress, prefix_len: int) -> ipaddress.IPv4Network | None:
    """The IPv4 network that `address`/`prefix_len` writes as IPv4-mapped IPv6, if it does."""
    # Dual-stack software writes an IPv4 peer as ::ffff:a.b.c.d; kept as IPv6 it never matches.
    # A network that starts in ::ffff:0:0/96 is at least a /96: bit 96 (ffff's last) is set.
    if not isinstance(address, ipaddress.IPv6Address) or address.ipv4_mapped is None:
        return None
    return ipaddress.IPv4Network((int(address.ipv4_mapped), prefix_len - 96))


def unmapped(address: IPAddress) -> IPAddress:
    """The address itself, or the IPv4 address an IPv4-mapped IPv6 address stands for."""
    mapped = _mapped_ipv4(address, address.max_prefixlen)
    return mapped.network_address if mapped else address


def _unwrap(text: str) -> str:
    # Bounces print the address as [203.0.113.7]; accept it as copied.
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    return text


def parse_address(text: str) -> IPAddress:
    """One IPv4 or IPv6 address, normalised (IPv4-mapped IPv6 becomes IPv4)."""
    text = _unwrap(text)
    if not text:
        raise AddressError(_l("Enter the IP address from the bounce message."))
    if "/" in text:
        raise AddressError(_l("Enter one address, not a range: %(text)s", text=text))
    if any(sep in text for sep in (",", ";", " ", "\t", "\n")):
        raise AddressError(_l("Enter one IP address only."))
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise AddressError(
            _l("This is not an IP address. Enter numbers such as 203.0.113.7, not a host name.")
        ) from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        raise AddressError(_l("Enter the address without a zone index."))
    return unmapped(address)


BROADCAST = ipaddress.IPv4Address("255.255.255.255")
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def non_global_reason(address: IPAddress) -> str | None:
    """Why `address` cannot be a mail server on the internet, or None if it can."""
    if any(address in network for network in DOCUMENTATION_NETWORKS):
        return _l("This is an example address reserved for documentation; no server uses it.")
    if address == BROADCAST:
        return _l(
            "This is the broadcast address of a local network; mail servers never send from it."
        )
    if address.is_unspecified:
        return _l("This is the unspecified address; it cannot send mail.")
    if address.is_loopback:
        return _l("This is a loopback address, used only inside one computer.")
    if address.is_multicast:
        return _l("This is a multicast address; mail servers never send from one.")
    if address.is_link_local:
        return _l("This is a link-local address, used only on a local network segment.")
    if address.is_private:
        return _l(
            "This is a private address, used only inside a local network. "
            "Use the public address shown in the bounce message."
        )
    if not address.is_global:
        return _l("This address is not used on the public internet.")
    return None


def parse_sender_address(text: str, *, allow_non_global: bool = False) -> IPAddress:
    """An address a sender may ask to delist: one public IPv4 or IPv6 address."""
    address = parse_address(text)
    if not allow_non_global and (reason := non_global_reason(address)):
        raise AddressError(reason)
    return address


def parse_network(text: str) -> IPNetwork:
    """An address or CIDR range, as operators type it; host bits must be zero.

    A range inside ::ffff:0:0/96 (IPv4-mapped) becomes the IPv4 range it stands for.
    """
    text = _unwrap(text)
    if not text:
        raise AddressError("enter an address or a CIDR range")
    if "%" in text:  # a zone index names a link on one host, never a network to list
        raise AddressError(f"{text!r}: give the address without a zone index")
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            loose = ipaddress.ip_network(text, strict=False)
            suggestion = _mapped_ipv4(loose.network_address, loose.prefixlen) or loose
            raise AddressError(f"{text} has host bits set; did you mean {suggestion}?") from None
        raise AddressError(f"{text!r} is not an IP address or CIDR range") from None
    return _mapped_ipv4(network.network_address, network.prefixlen) or network


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
PLAIN_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?:/(3[0-2]|[12]?[0-9]))?")


def parse_network_key(text: str) -> tuple[str, NetworkKey]:
    """An address or range as `parse_network` reads it: its text and key, quickly.

    For bulk imports: a plain IPv4 address or range (most of any list) is read
    with one regular expression and integer arithmetic, several times faster
    than `ipaddress`; anything else, and every error, goes through `parse_network`.
    """
    match = PLAIN_IPV4.fullmatch(text)
    if match:
        a, b, c, d = (int(octet) for octet in match.group(1, 2, 3, 4))
        prefix_len = int(match.group(5) or 32)
        value = a << 24 | b << 16 | c << 8 | d
        if value & ((1 << (32 - prefix_len)) - 1) == 0:
            key = NetworkKey(4, prefix_len, value.to_bytes(4, "big"))
            return f"{a}.{b}.{c}.{d}/{prefix_len}", key
    network = parse_network(text)
    return str(network), network_key(network)


def network_key(network: IPNetwork) -> NetworkKey:
    return NetworkKey(network.version, network.prefixlen, network.network_address.packed)


def containing_keys(address: IPAddress, prefix_lens: Iterable[int]) -> list[NetworkKey]:
    """The key of the network of each given length that contains `address`."""
    bits = address.max_prefixlen
    value = int(address)
    width = bits // 8
    keys = []
    for prefix_len in prefix_lens:
        start = (value >> (bits - prefix_len)) << (bits - prefix_len)
        keys.append(NetworkKey(address.version, prefix_len, start.to_bytes(width, "big")))
    return keys
