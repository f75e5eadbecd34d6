"""What may never be listed, on any path: the one check before a network joins the list.

- networks wider than `LISTING_MIN_PREFIX_V4` / `LISTING_MIN_PREFIX_V6` (`0.0.0.0/0` would
  refuse every mail server on earth);
- anything containing 127.0.0.1, which RFC 5782 says a list must never hold (mail servers
  query it to test that a list works);
- special-purpose space no mail server on the internet sends from (loopback, private,
  link-local, multicast, unspecified, documentation, ...), unless
  `DELIST_ALLOW_NON_GLOBAL_IPS` is on for a demo or tests;
- anything overlapping an entry of the operator's allowlist (their own mail servers).

`ListingGuard.current()` reads the settings and the allowlist once; `refusal(key)` then
answers in integer arithmetic, fast enough for an import of a million lines.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.core.errors import NotAllowed
from app.extensions import db
from app.listing.addresses import NetworkKey, network_key
from app.models import AllowlistEntry


class ListingRefused(NotAllowed):
    """A network that no path may list; str() says why, naming the rule or the entry."""


# The IANA special-purpose registries' ranges that are not global, with what they are.
SPECIAL_PURPOSE = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "local-use translation"),
    ("100::/64", "discard-only"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
NEVER_LISTED = ipaddress.ip_network("127.0.0.1/32")


def span(key: NetworkKey) -> tuple[int, int]:
    """The first and last address of a network, as integers."""
    first = int.from_bytes(key.net_start, "big")
    bits = 32 if key.version == 4 else 128
    return first, first | ((1 << (bits - key.prefix_len)) - 1)


class Spans:
    """Labelled address ranges of one kind, asked "which one overlaps this range?" by bisection."""

    def __init__(self, entries: Iterable[tuple[NetworkKey, str]]) -> None:
        rows = sorted((key.version, *span(key), label) for key, label in entries)
        self._starts = [(version, first) for version, first, _, _ in rows]
        self._rows = rows
        # The widest end among the rows so far: a backward scan stops once it falls short.
        self._reach: list[tuple[int, int]] = []
        for version, _, last, _ in rows:
            before = self._reach[-1] if self._reach else (version, -1)
            self._reach.append((version, max(last, before[1]) if before[0] == version else last))

    def overlapping(self, version: int, first: int, last: int) -> str | None:
        """The label of a range that shares an address with first..last, if any."""
        i = bisect.bisect_right(self._starts, (version, last)) - 1
        while i >= 0 and self._reach[i] >= (version, first):
            row_version, _, row_last, label = self._rows[i]
            if row_version == version and row_last >= first:
                return label
            i -= 1
        return None


def _spans(networks: Iterable[tuple[str, str]]) -> Spans:
    return Spans((network_key(ipaddress.ip_network(text)), label) for text, label in networks)


_SPECIAL = _spans((text, f"{text}, {kind} space") for text, kind in SPECIAL_PURPOSE)
_NEVER = _spans([(str(NEVER_LISTED), "127.0.0.1")])


@dataclass(frozen=True)
class ListingGuard:
    min_prefix: dict[int, int]
    allow_non_global: bool
    allowlist: Spans

    @classmethod
    def current(cls) -> ListingGuard:
        """The guard as the settings and the allowlist stand now."""
        config = current_app.config
        entries = db.session.execute(
            sa.select(
                AllowlistEntry.version,
                AllowlistEntry.prefix_len,
                AllowlistEntry.net_start,
                AllowlistEntry.network,
                AllowlistEntry.reason,
            )
        )
        return cls(
            min_prefix={
                4: config["LISTING_MIN_PREFIX_V4"],
                6: config["LISTING_MIN_PREFIX_V6"],
            },
            allow_non_global=config["DELIST_ALLOW_NON_GLOBAL_IPS"],
            allowlist=Spans(
                (
                    NetworkKey(row.version, row.prefix_len, row.net_start),
                    f"{row.network} ({row.reason})",
                )
                for row in entries
            ),
        )

    def refusal(self, key: NetworkKey, text: str) -> str | None:
        """Why the network `text` (with `key`) may not be listed; None when it may."""
        widest = self.min_prefix[key.version]
        if key.prefix_len < widest:
            setting = f"LISTING_MIN_PREFIX_V{key.version}"
            return f"{text} is too wide to list: at most a /{widest} ({setting})"
        first, last = span(key)
        if _NEVER.overlapping(key.version, first, last):
            return f"{text} contains 127.0.0.1, which a list must never hold (RFC 5782)"
        if not self.allow_non_global and (
            special := _SPECIAL.overlapping(key.version, first, last)
        ):
            return f"{text} overlaps {special}, where no mail server on the internet sends from"
        if entry := self.allowlist.overlapping(key.version, first, last):
            return f"{text} overlaps the allowlist entry {entry}"
        return None

    def check(self, key: NetworkKey, text: str) -> None:
        """Raise ListingRefused when the network may not be listed."""
        if why := self.refusal(key, text):
            raise ListingRefused(why)
