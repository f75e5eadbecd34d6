"""A gunicorn logger whose access log never shows a confirmation token.

Used by gunicorn.conf.py (gunicorn reads it from the working directory).
"""

from gunicorn.glogging import Logger

from app.core.redaction import redact


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}
