"""Security events as structured log lines (logfmt): one line per event, easy to grep and ship.

time=2026-11-23T14:00:00Z event=request.submitted outcome=check_inbox
email="s***@example.org" client=198.51.100.7 request=12
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener

log = logging.getLogger("delist.security")
_listener: QueueListener | None = None


def write_in_background() -> None:
    """Hand security lines to a thread of their own: a request only puts each on a queue.

    The thread writes them to the handlers the root logger has now (after logging is set
    up), in order; `stop_writing_in_background` (run at exit, and by tests) writes what is
    still queued before it returns, so nothing is lost when a process stops.
    """
    global _listener
    handlers = logging.getLogger().handlers
    if _listener is not None or not handlers:
        return
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = QueueListener(lines, *handlers, respect_handler_level=True)
    _listener.start()
    log.addHandler(QueueHandler(lines))
    log.propagate = False
    atexit.register(stop_writing_in_background)


def _detach() -> QueueListener | None:
    """Log in the caller's thread again; return the listener that was writing, if any."""
    global _listener
    listener, _listener = _listener, None
    for handler in [h for h in log.handlers if isinstance(h, QueueHandler)]:
        log.removeHandler(handler)
    log.propagate = True
    return listener


def _after_fork_in_child() -> None:
    """A forked child (gunicorn with --preload) has the queue but not the thread: start its own."""
    if _detach() is not None:
        write_in_background()


os.register_at_fork(after_in_child=_after_fork_in_child)


def stop_writing_in_background() -> None:
    """Write every queued line, stop the thread, and log in the caller's thread again."""
    if (listener := _detach()) is not None:
        listener.stop()  # the queue is drained before the thread ends


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
