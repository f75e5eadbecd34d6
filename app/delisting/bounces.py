"""Reading a pasted bounce: which IP address the refusal names, with what code, and what it means.

The address is the one the receiving server's reply says it refused, and only that:
never the server that gave the reply, never the reporting server, never an address from
the returned message (`bounce_mime` leaves those out, `bounce_replies` reads the
replies). A bounce whose replies name no address gets none, with the code and what it
means (`bounce_codes`); one whose replies name several gets them all as candidates, for
the sender to choose from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.delisting.bounce_codes import CodeMeaning, meaning_of, provider_code
from app.delisting.bounce_mime import looks_like_a_message, report_texts
from app.delisting.bounce_replies import (
    BARE_RE,
    BRACKETED_RE,
    Reply,
    replies_in,
    sender_address,
    unique,
)

MAX_BOUNCE_LENGTH = 50_000


@dataclass
class BounceFacts:
    """What a bounce says: the refused address if there is one, the code, and what it means."""

    address: str | None = None
    code: str | None = None
    # Every address the replies name as refused; more than one means the sender chooses.
    candidates: list[str] = field(default_factory=list)
    # Whether any server reply was found at all (else the text is not a bounce we can read).
    has_reply: bool = False
    meaning: CodeMeaning | None = None


def read_bounce(text: str) -> BounceFacts:
    """Find the refused IP address and the code in a pasted bounce, whole or a fragment."""
    texts = report_texts(text[:MAX_BOUNCE_LENGTH])
    replies = _fullest([reply for part in texts for reply in replies_in(part)])
    has_reply = bool(replies)
    if not replies and not looks_like_a_message(text):
        # No SMTP code in a fragment: a reply's words copied on their own ("Your IP ... is
        # blocked"). A whole bounce without a reply names no address.
        replies = [Reply(part) for part in texts if part.strip()]
    naming = [reply for reply in replies if reply.is_about_the_sending_address()]
    candidates = unique(address for reply in naming for address in reply.addresses())
    code = _code(naming if candidates else replies)
    return BounceFacts(
        address=candidates[0] if len(candidates) == 1 else None,
        code=code,
        candidates=candidates,
        has_reply=has_reply or bool(candidates),
        meaning=meaning_of(code),
    )


def _fullest(replies: list[Reply]) -> list[Reply]:
    """The replies without those that are only the start of another one.

    Sendmail's summary and the DSN often keep only the first line of a multi-line reply
    (Gmail's `[address NN] Messages with multiple addresses in From:`), whose reason is
    in the lines they cut off.
    """
    texts = [reply.normalised() for reply in replies]
    return [
        reply
        for reply, text in zip(replies, texts, strict=True)
        if not any(other != text and other.startswith(text) for other in texts)
    ]


def _code(replies: list[Reply]) -> str | None:
    """The code to show: a provider's own when a reply prints one, else the first enhanced
    code, a security or policy one (5.7.x) before others."""
    for reply in replies:
        if found := provider_code(reply.text):
            return found
    codes = [reply.code for reply in replies if reply.code]
    return next((code for code in codes if code[1:4] == ".7."), codes[0] if codes else None)


def addresses_in(text: str, limit: int = 50) -> list[str]:
    """Every IP address that could have sent mail, in the order the text names them."""
    text = text[:MAX_BOUNCE_LENGTH]
    found = [*BRACKETED_RE.finditer(text), *BARE_RE.finditer(text)]
    found.sort(key=lambda match: match.start())
    return unique(sender_address(match.group(1)) for match in found)[:limit]
