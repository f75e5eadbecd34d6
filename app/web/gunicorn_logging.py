"""A gunicorn logger whose access log never shows a confirmation token.

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
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}
