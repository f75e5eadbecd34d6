"""A gunicorn logger whose access log never shows a confirmation token or an API key.

Used by gunicorn.conf.py (gunicorn reads it from the working directory).
"""

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from app.core.redaction import redact


class RedactingLogger(Logger):
    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta
    ) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: _redacted(k, v) for k, v in atoms.items()}


def _redacted(atom: str, value: Any) -> Any:
    # `{authorization}i` (the request header) and `{http_authorization}e` (the WSGI
    # environ) hold the bearer key; a custom access_log_format could print either.
    if "authorization" in atom:
        return "[redacted]"
    return redact(value) if isinstance(value, str) else value
