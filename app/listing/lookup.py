"""The answer to "is this IP listed, and what can its sender do?" for people and machines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app

from app.listing import blocklist
from app.listing.addresses import IPAddress
from app.models import Listing


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
            "listing": None
            if listing is None
            else {
                "network": listing.network,
                "reason": listing.reason,
                "listed_at": listing.listed_at.isoformat(),
                "expires_at": listing.expires_at.isoformat() if listing.expires_at else None,
            },
            "removal_effective_at": listing.removal_effective_at.isoformat()
            if listing is not None and listing.removal_effective_at
            else None,
            "delist_url": self.delist_url,
        }


def look_up(address: IPAddress, now: datetime) -> LookupResult:
    return LookupResult(address, blocklist.find_listing(address, now))
