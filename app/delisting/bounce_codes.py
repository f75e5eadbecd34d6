"""What the codes in a refusal mean, for the sender: one table, read by the form and the help page.

Besides the enhanced status codes (RFC 3463), some providers print their own code in the
reply's text (Outlook.com's `(S3150)`); when a reply has one we explain that one, since it
says more than the `5.7.1` before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

PROVIDER_CODE_RE = re.compile(r"\b(S3140|S3150)\b")


@dataclass(frozen=True)
class CodeMeaning:
    """What a code means, as the help page lists it."""

    label: str
    meaning: LazyString
    covers: Callable[[str], bool]


def _one_of(*codes: str) -> Callable[[str], bool]:
    return lambda code: code in codes


def _banned_sending_ip(code: str) -> bool:
    return code.startswith("5.7.") and 606 <= int(code.split(".")[2]) <= 649


MEANINGS = [
    CodeMeaning(
        "5.7.606-5.7.649",
        _l(
            "Refused because the sending server's IP address is on our list. The address in "
            "square brackets is the one to remove. This portal is the place to do it."
        ),
        _banned_sending_ip,
    ),
    CodeMeaning(
        "5.7.511",
        _l(
            "The sending server's IP address is banned, and a ban cannot be lifted through a "
            "self-service form. Follow the directions in the reply (it names an address to "
            "write to) and say what you changed so that no more spam is sent."
        ),
        _one_of("5.7.511"),
    ),
    CodeMeaning(
        "5.7.708",
        _l(
            "Mail from this IP address is not accepted because of its reputation, often a new "
            "or shared address of a hosted mail service. The reply names no address to remove: "
            "ask the provider that runs the sending server."
        ),
        _one_of("5.7.708"),
    ),
    CodeMeaning(
        "5.7.509",
        _l(
            "The sending domain failed DMARC: neither its SPF nor its DKIM check matched the "
            "domain in the From address, and the domain's DMARC policy asks receivers to refuse "
            "such mail. Removing an IP address does not help: fix the domain's SPF, DKIM or "
            "DMARC records."
        ),
        _one_of("5.7.509"),
    ),
    CodeMeaning(
        "5.7.510",
        _l(
            "Refused by a domain's own rules (such as DMARC, or a domain that takes mail over "
            "IPv6 only), not because of the sending server's IP address. Removing an IP address "
            "does not help: the administrator of the domain can fix it."
        ),
        _one_of("5.7.510"),
    ),
    CodeMeaning(
        "S3140, S3150",
        _l(
            "Part of the sending network (your provider's address range) is on the receiving "
            "provider's own block list. That is not our list, and this portal cannot remove it: "
            "ask your Internet or hosting provider, or use that provider's own removal form."
        ),
        _one_of("S3140", "S3150"),
    ),
    CodeMeaning(
        "5.7.1",
        _l(
            "Refused by a policy. Read the text after the code: if it names our list and an IP "
            "address, use this portal; if it speaks of the recipient or the content, the address "
            "is not the problem."
        ),
        _one_of("5.7.1"),
    ),
    CodeMeaning(
        "5.7.23, 5.7.25, 5.7.26",
        _l(
            "Your domain's SPF record does not allow the sending server (5.7.23), the server's "
            "address has no matching reverse DNS name (5.7.25), or SPF, DKIM and DMARC checks "
            "failed together (5.7.26). Removing an IP address does not help: fix the DNS records "
            "or the server's settings."
        ),
        _one_of("5.7.23", "5.7.25", "5.7.26"),
    ),
]


def provider_code(text: str) -> str | None:
    """A provider's own code that a reply prints in its text, when we explain it."""
    found = PROVIDER_CODE_RE.search(text)
    return found.group(1) if found else None


def meaning_of(code: str | None) -> CodeMeaning | None:
    """What the code means, when we explain it."""
    if not code:
        return None
    return next((entry for entry in MEANINGS if entry.covers(code)), None)
