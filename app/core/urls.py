"""Absolute links for mail, built from PUBLIC_BASE_URL, never from the Host header."""

from typing import Any

from flask import current_app


def public_url(endpoint: str, **values: Any) -> str:
    # Bind to no server name so the path carries no host or script root of the request.
    path = current_app.url_map.bind("").build(endpoint, values)
    return current_app.config["PUBLIC_BASE_URL"] + path
