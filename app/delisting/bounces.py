"""Reading a pasted bounce message: which IP address our servers refused, and with what code.

A bounce holds many addresses (the receiving servers, relays, the sender's own
network), so the address that counts is the one our reply names: in square
brackets, in the text that follows an enhanced status code of the 5.7.x kind.
Only when no reply line names one do we fall back on the addresses in
brackets anywhere, then on any address at all, and say how many we found.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.listing.addresses import unmapped

MAX_BOUNCE_LENGTH = 50_000
# An enhanced status code (RFC 3463), with the basic code before it when there is one.
CODE_RE = re.compile(r"(?<![\w.])(?:([245][0-9]{2})[ -])?([245]\.[0-9]{1,3}\.[0-9]{1,3})(?![\w.])")
BRACKETED_RE = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})\]")
BARE_RE = re.compile(r"(?<![\w:.])([0-9A-Fa-f:.]{2,45})(?![\w:.])")
REPLY_SPAN = 400  # characters after a code that still belong to that reply


@dataclass
class BounceFacts:
    """What a bounce says: the refused address if we can tell, and the codes in it."""

    address: str | None = None
    code: str | None = None
    candidates: list[str] = field(default_factory=list)


def _address(text: str) -> str | None:
    """The text as an IP address that could have sent mail, or None."""
    try:
        address = unmapped(ipaddress.ip_address(text))
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified or address.is_link_local:
        return None
    if address.is_multicast:
        return None
    return str(address)


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def read_bounce(text: str) -> BounceFacts:
    """Find the refused IP address and the 5.7.x code in a pasted bounce."""
    text = text[:MAX_BOUNCE_LENGTH]
    codes = list(CODE_RE.finditer(text))
    policy_codes = [match for match in codes if match.group(2).startswith("5.7.")]
    code = policy_codes[0].group(2) if policy_codes else (codes[0].group(2) if codes else None)

    in_replies = _unique(
        _address(found.group(1))
        for match in policy_codes
        for found in BRACKETED_RE.finditer(text, match.end(), match.end() + REPLY_SPAN)
    )
    if in_replies:
        return BounceFacts(in_replies[0], code, in_replies)
    bracketed = _unique(_address(found.group(1)) for found in BRACKETED_RE.finditer(text))
    candidates = bracketed or _unique(_address(found.group(1)) for found in BARE_RE.finditer(text))
    return BounceFacts(candidates[0] if len(candidates) == 1 else None, code, candidates)


def addresses_in(text: str, limit: int = 50) -> list[str]:
    """Every IP address that could have sent mail, in the order the text names them."""
    text = text[:MAX_BOUNCE_LENGTH]
    found = [*BRACKETED_RE.finditer(text), *BARE_RE.finditer(text)]
    found.sort(key=lambda match: match.start())
    return _unique(_address(match.group(1)) for match in found)[:limit]
