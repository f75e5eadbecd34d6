"""RFC 5782's test entries, which every list answers the same whatever it holds.

Mail servers and monitoring ask them to see that a list works: 127.0.0.2 is always listed,
127.0.0.1 never (the guard refuses to list it; the rbldnsd export writes 127.0.0.2 in).
"""

from __future__ import annotations

import ipaddress

from app.listing.exports import RFC5782_TEST_ENTRIES
from app.listing.guard import NEVER_LISTED

ALWAYS_LISTED = ipaddress.ip_address(RFC5782_TEST_ENTRIES[4])
NEVER_LISTED_ADDRESS = NEVER_LISTED.network_address


def fixed_answer(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool | None:
    """True for the always-listed test address, False for the never-listed one, else None:
    ask the list."""
    if address == ALWAYS_LISTED:
        return True
    if address == NEVER_LISTED_ADDRESS:
        return False
    return None
