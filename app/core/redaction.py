"""Confirmation links and API keys are secrets: keep them out of every log line we write."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

# Every spelling that reaches the confirm view: extra slashes (the router merges them),
# an encoded slash (`/confirm%2FTOKEN`) or encoded letters (`/%63onfirm/`), which the
# server decodes before routing. So the text is matched as the server would read it.
CONFIRM_PATH = re.compile(r"(/confirm)/+[^\s?#\"']+", re.IGNORECASE)
DECODE_ROUNDS = 3  # a doubly encoded token is still the token
# API keys (app.accounts.api_keys) carry a prefix, so one found anywhere in a line is blanked:
# in a URL someone pasted it into, or a header a custom log format prints.
API_KEY = re.compile(r"dlp_[A-Za-z0-9_\-]{8,}")


def _decoded(text: str) -> str:
    for _ in range(DECODE_ROUNDS):
        if "%" not in text:
            break
        text = unquote(text)
    return text


def redact(text: str) -> str:
    """`text` with every confirmation token (however its path was written) and API key
    blanked."""
    if "dlp_" in text:
        text = API_KEY.sub("dlp_[redacted]", text)
    if "/" not in text:
        return text
    decoded = _decoded(text)
    if not CONFIRM_PATH.search(decoded):
        return text
    return CONFIRM_PATH.sub(r"\1/[redacted]", decoded)


class RedactConfirmTokens(logging.Filter):
    """A logging filter that blanks confirmation tokens and API keys in a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def install() -> None:
    """Redact the request lines of Werkzeug's development server and our own loggers."""
    for name in ("werkzeug", "app", "delist.policy", "delist.security"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactConfirmTokens) for f in logger.filters):
            logger.addFilter(RedactConfirmTokens())
