"""Confirmation links are secrets: keep them out of every log line we write."""

from __future__ import annotations

import logging
import re

CONFIRM_PATH = re.compile(r"(/confirm/)[^/\s?\"']+")


def redact(text: str) -> str:
    return CONFIRM_PATH.sub(r"\1[redacted]", text)


class RedactConfirmTokens(logging.Filter):
    """A logging filter that blanks confirmation tokens in a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/confirm/" in message:
            record.msg = redact(message)
            record.args = None
        return True


def install() -> None:
    """Redact the request lines of Werkzeug's development server and our own loggers."""
    for name in ("werkzeug", "app", "delist.policy", "delist.security"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactConfirmTokens) for f in logger.filters):
            logger.addFilter(RedactConfirmTokens())
