"""The MIME layer of a pasted bounce: the texts a person reads, without the returned message.

The standard `email` package takes the structure apart (multipart/report, the
message/delivery-status fields, quoted-printable, folded header lines, charsets); this
module only chooses what to read. It keeps the notification text and each recipient's
`Diagnostic-Code` (the receiving server's reply), and leaves out what can only mislead:
the bounce's own headers, the DSN's `Reporting-MTA` and `Remote-MTA` (servers, never the
sender), and the returned message (a message/rfc822 or text/rfc822-headers part, or the
copy a plain-text bounce quotes below a marker line), whose headers name the sender's
own relays. A fragment without headers is read as plain text.
"""

from __future__ import annotations

import email
import email.policy
import quopri
import re
from email.message import EmailMessage, Message
from html.parser import HTMLParser

RETURNED_MESSAGE_TYPES = {
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global-headers",
}
DELIVERY_STATUS_TYPES = {"message/delivery-status", "message/global-delivery-status"}
# The line a plain-text bounce (Exim, qmail, Sendmail, Exchange) puts above its copy of the
# returned message, or the part header of that copy in a pasted MIME body: everything after
# it is the sender's own message.
RETURNED_COPY_RE = re.compile(
    r"^[ \t>]*(?:-{2,}.*(?:copy of the (?:body|message)|original message|returned message"
    r"|message follows|message headers? follows?|unsent message)"
    r"|original message headers:|-+ ?original message ?-+"
    r"|content-type:[ \t]*(?:message/(?:rfc822|global)|text/rfc822-headers))",
    re.IGNORECASE | re.MULTILINE,
)
HEADER_LINE_RE = re.compile(r"^[A-Za-z][\w-]*:", re.MULTILINE)
MESSAGE_HEADERS = {"from", "to", "subject", "date", "received", "mime-version", "content-type"}
SOFT_BREAK_RE = re.compile(r"=\r?\n")
QP_ESCAPE_RE = re.compile(r"=[0-9A-F]{2}")


def report_texts(text: str) -> list[str]:
    """The parts of a bounce that speak of the failure, in order: notices and server replies."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not looks_like_a_message(text):
        return [_without_returned_copy(_decoded_fragment(text))]
    message = email.message_from_string(text, policy=email.policy.default)
    return [part for part in _texts(message) if part.strip()]


def looks_like_a_message(text: str) -> bool:
    """Whether the text starts with a message's headers (a whole bounce, not a fragment)."""
    text = text.lstrip("\r\n")
    if text.startswith("From "):  # an mbox file's separator line
        text = text.partition("\n")[2]
    head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    names = {match.group(0)[:-1].lower() for match in HEADER_LINE_RE.finditer(head)}
    return bool(HEADER_LINE_RE.match(text)) and bool(names & MESSAGE_HEADERS)


def _decoded_fragment(text: str) -> str:
    """Quoted-printable pasted as it was sent (`=` line ends, `=3D`), decoded; else the text."""
    if SOFT_BREAK_RE.search(text) and QP_ESCAPE_RE.search(text):
        return quopri.decodestring(text.encode("utf-8", "replace")).decode("utf-8", "replace")
    return text


def _without_returned_copy(text: str) -> str:
    marker = RETURNED_COPY_RE.search(text)
    return text[: marker.start()] if marker else text


def _texts(part: Message) -> list[str]:
    """The readable texts of a part and its children, skipping returned messages."""
    kind = part.get_content_type()
    if kind in RETURNED_MESSAGE_TYPES:
        return []
    if kind in DELIVERY_STATUS_TYPES:
        return _diagnostic_codes(part)
    if part.is_multipart():
        children = list(part.iter_parts()) if isinstance(part, EmailMessage) else []
        if kind == "multipart/alternative":
            plain = [child for child in children if child.get_content_type() == "text/plain"]
            children = plain or children
        return [text for child in children for text in _texts(child)]
    if part.get_content_maintype() != "text" and part.get_content_maintype() != "message":
        return []
    body = _content(part)
    if kind == "text/html":
        body = html_to_text(body)
    return [_without_returned_copy(body)]


def _diagnostic_codes(part: Message) -> list[str]:
    """Each recipient's reply, as `Diagnostic-Code: smtp; 550 ...` lines (folding undone)."""
    payload = part.get_payload()
    fields = payload if isinstance(payload, list) else []
    return [
        f"Diagnostic-Code: {' '.join(str(value).split())}"
        for block in fields
        if isinstance(block, Message)
        for value in block.get_all("Diagnostic-Code", [])
    ]


def _content(part: Message) -> str:
    """The part's text, decoded; an unknown charset is read as UTF-8 with replacements."""
    try:
        content = part.get_content() if isinstance(part, EmailMessage) else None
    except (LookupError, ValueError):
        content = None
    if isinstance(content, str):
        return content
    raw = part.get_payload(decode=True)
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(part.get_payload())


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skipping += tag in ("script", "style", "head")
        if tag in ("br", "p", "div", "tr", "li", "pre", "table"):
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self._skipping -= tag in ("script", "style", "head") and self._skipping > 0
        if tag in ("p", "div", "tr", "pre", "table"):
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    """What an HTML notice says, one block a line."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return "".join(parser.chunks)
