"""Who a client is, for every per-client rate limit: its IPv4 address, or its IPv6 /64.

An IPv6 customer is routed a /64 or more (RFC 6177) and may send from any address in
it, so limits counted per IPv6 address would give one client endless fresh budgets.
The audit trail and the logs keep the full address; only the limits count networks.
"""

from __future__ import annotations

import ipaddress

from flask import request

from app.listing.addresses import AddressError, parse_address

IPV6_CLIENT_PREFIX = 64


def client_network(address: str) -> str:
    """The client `address` counts as: the IPv4 address itself, or its IPv6 /64."""
    try:
        parsed = parse_address(address)  # an IPv4-mapped IPv6 address is IPv4
    except AddressError:
        return address
    if parsed.version == 4:
        return str(parsed)
    return str(ipaddress.IPv6Network((parsed, IPV6_CLIENT_PREFIX), strict=False))


def client_key() -> str:
    """This request's client: the limiter's key for every per-client limit."""
    return client_network(request.remote_addr or "127.0.0.1")
