"""One mailbox, however its address is written: what the limits on mail per recipient count."""

from __future__ import annotations


def mailbox(address: str) -> str:
    """The address with its case folded and a `+tag` dropped from the local part.

    `Bomb@example.com`, `bOmb@EXAMPLE.com` and `bomb+1@example.com` reach one person;
    counting them apart would let one person be mailed past every limit. Merging two
    addresses that differ only so is harmless: it can only make a limit stricter.
    """
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return address.strip().casefold()
    return f"{local.split('+', 1)[0]}@{domain}".casefold()
