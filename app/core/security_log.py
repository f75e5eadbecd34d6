"""Security events as structured log lines (logfmt): one line per event, easy to grep and ship.

time=2026-11-23T14:00:00Z event=request.submitted outcome=check_inbox
email="s***@example.org" client=198.51.100.7 request=12
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

log = logging.getLogger("delist.security")


def mask_email(email: str | None) -> str | None:
    """Enough to recognise an address in an incident, not enough to harvest it."""
    if not email:
        return None
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _value(value: object) -> str:
    text = str(value)
    if text and all(c.isalnum() or c in "-_.:/@*" for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)


def event(
    name: str,
    *,
    outcome: str = "ok",
    email: str | None = None,
    client: str | None = None,
    **fields: object,
) -> None:
    """Log one security event; `client` is the address the web request came from, if any."""
    if not log.isEnabledFor(logging.INFO):
        return
    parts = {
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "event": name,
        "outcome": outcome,
        "email": mask_email(email),
        "client": client,
        **fields,
    }
    log.info(" ".join(f"{k}={_value(v)}" for k, v in parts.items() if v is not None))
