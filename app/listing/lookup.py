"""The answer to "is this IP listed, and what can its sender do?" for people and machines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app

from app.listing import blocklist
from app.listing.addresses import IPAddress
from app.models import Listing


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def listing_json(listing: Listing) -> dict[str, Any]:
    """A listing as every JSON answer shows it (lookup and write API alike).

    What senders may see: never the evidence texts, which may name spam traps.
    """
    return {
        "network": listing.network,
        "reason": listing.reason,
        "listed_at": listing.listed_at.isoformat(),
        "expires_at": _time(listing.expires_at),
        "hits": listing.hit_count,
        "first_seen_at": listing.seen_first.isoformat(),
        "last_seen_at": listing.seen_last.isoformat(),
    }


@dataclass(frozen=True)
class LookupResult:
    address: IPAddress
    listing: Listing | None

    @property
    def listed(self) -> bool:
        return self.listing is not None

    @property
    def delist_url(self) -> str:
        return f"{current_app.config['PUBLIC_BASE_URL']}/?ip={self.address}"

    def as_json(self) -> dict[str, Any]:
        listing = self.listing
        return {
            "ip": str(self.address),
            "listed": self.listed,
            "listing": None if listing is None else listing_json(listing),
            "removal_effective_at": listing.removal_effective_at.isoformat()
            if listing is not None and listing.removal_effective_at
            else None,
            "delist_url": self.delist_url,
        }


def look_up(address: IPAddress, now: datetime) -> LookupResult:
    return LookupResult(address, blocklist.find_listing(address, now))
