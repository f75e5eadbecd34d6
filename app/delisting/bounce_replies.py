"""Reading the receiving server's replies in a bounce's text, the way a person reads them.

A reply starts at its SMTP code (`550`, `550-5.7.1`, or an enhanced code like `5.7.606`)
where a reply can start: at the start of a line (Sendmail's `<<<`, Exchange's `#`), or
after `said:`, `returned '`, `(reason:`, `smtp;` and the like. Everything before the code
is the receiving server speaking of itself (`host mx.example.org[192.0.2.25] said:`,
`Connected to 192.0.2.25`), so it is never read for the sender's address. A reply goes on
over its wrapped lines (indented at least as far as its first, Postfix and Exim), its
`550-` continuation lines, or up to Exchange's closing quote; a blank line ends it.

A reply names the blocked address when an address is in it and its reason is about the
sending server (listed, blocked, reputation, volume, reverse DNS) rather than the
recipient, the content or a domain's policy (SPF, DMARC), even when an address is printed
in it (Gmail's `[203.0.113.7      18]` prefix, a help link with `?ip=`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from app.listing.addresses import unmapped

ENHANCED = r"[245]\.[0-9]{1,3}\.[0-9]{1,3}"
ENHANCED_RE = re.compile(rf"(?<![\w.])({ENHANCED})(?![\w.])")
REPLY_START_RE = re.compile(
    r"(?:^[ \t>\-]*(?:<<<[ \t]*|#)?|(?<=[:;'(])[ \t]*)"
    rf"(?P<code>[245][0-9]{{2}}(?=[ -]|$)|{ENHANCED}(?=[ ,;:]|$))"
)
# A header or DSN field other than the reply itself (Status, Remote-MTA, Received ...).
FIELD_RE = re.compile(r"^[ \t]*(?!Diagnostic-Code:)[A-Za-z][\w-]*:[ \t]", re.IGNORECASE)
MAX_REPLY_LINES = 12

BRACKETED_RE = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})(?:[ \t]+[0-9]+)?\]")
BARE_RE = re.compile(r"(?<![\w:.])([0-9A-Fa-f:.]{2,45})(?![\w:.])")
# What a reply says just before an address that it names as the sender's.
NAMING_RE = re.compile(
    r"(?:\b(?:ip|address|from|client|host|sender|source)|=)[\s:#\[]*$", re.IGNORECASE
)
NOT_ABOUT_THE_ADDRESS_RE = re.compile(
    r"recipient|user ?unknown|unknown user|no such user|mailbox|does ?n[o']t exist|inbox"
    r"|storage|quota|\bSPF\b|DMARC|DKIM|header|authenticat|AuthRequired|relay(?:ing| access)"
    r"|hop count|connection refused|timed out|message expired|content|virus",
    re.IGNORECASE,
)
# Enhanced-code subjects (RFC 3463) about the recipient, its mailbox, its system, the content.
NOT_ABOUT_THE_ADDRESS_SUBJECTS = {"1", "2", "3", "6"}


def sender_address(text: str) -> str | None:
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


def unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


@dataclass(frozen=True)
class Reply:
    """One reply of a receiving server, from its code to its end, lines joined."""

    text: str

    @property
    def code(self) -> str | None:
        """Its enhanced status code (5.7.606), if it has one."""
        found = ENHANCED_RE.search(self.text[:24])
        return found.group(1) if found else None

    def normalised(self) -> str:
        """Its words, for comparing replies: spacing and closing quotes or brackets left out."""
        return " ".join(self.text.split()).rstrip(")'")

    def is_about_the_sending_address(self) -> bool:
        code = self.code
        if code and code.split(".")[1] in NOT_ABOUT_THE_ADDRESS_SUBJECTS:
            return False
        return not NOT_ABOUT_THE_ADDRESS_RE.search(self.text)

    def addresses(self) -> list[str]:
        """The addresses in it, those it names as the sender's first when there are others."""
        found = sorted(
            [*BRACKETED_RE.finditer(self.text), *BARE_RE.finditer(self.text)],
            key=lambda match: match.start(),
        )
        named = [match for match in found if self._names(match)]
        return unique(sender_address(match.group(1)) for match in (named or found))

    def _names(self, match: re.Match[str]) -> bool:
        if self.text[match.start() - 1 : match.start()] == "[" or match.group(0)[0] == "[":
            return True
        return bool(NAMING_RE.search(self.text[max(0, match.start() - 24) : match.start()]))


def replies_in(text: str) -> list[Reply]:
    """Every reply in one text of the bounce, in order."""
    lines = text.split("\n")
    replies = []
    index = 0
    while index < len(lines):
        start = None if FIELD_RE.match(lines[index]) else REPLY_START_RE.search(lines[index])
        if start is None:
            index += 1
            continue
        reply_lines, index = _reply_lines(lines, index, start)
        replies.append(Reply(" ".join(reply_lines)))
    return replies


def _reply_lines(lines: list[str], first: int, start: re.Match[str]) -> tuple[list[str], int]:
    """The reply's lines from its code on, and the index of the line after it."""
    line = lines[first]
    indent = _indent(line)
    quoted = line[: start.start("code")].rstrip().endswith("'")
    code = start.group("code")
    parts = [line[start.start("code") :].strip()]
    index = first + 1
    while index < len(lines) and len(parts) < MAX_REPLY_LINES:
        line = lines[index]
        if quoted and parts[-1].endswith("'"):
            break
        continued = re.match(rf"[ \t>]*(?:<<<[ \t]*)?{code}-", parts[-1]) and re.match(
            rf"[ \t>]*(?:<<<[ \t]*)?{code}[ -]", line
        )
        wrapped = line[:1] in (" ", "\t") and _indent(line) >= max(indent, 1)
        if not line.strip() or not (quoted or continued or wrapped):
            break
        parts.append(line.strip().removeprefix("<<<").strip())
        index += 1
    return parts, index


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))
