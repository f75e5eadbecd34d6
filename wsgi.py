"""WSGI entry point: `gunicorn wsgi:app`, and `flask --app wsgi ...` for the CLI."""

import sys

from config import ConfigError

try:
    from app import create_app

    app = create_app()
except ConfigError as exc:
    print(f"delist-portal: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
