"""The JSON the API answers with: errors in one shape, listings as the feed shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify

from app.listing.lookup import listing_json
from app.models import Listing


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """{"error", "message"} and, when one field is at fault, "field"."""
    body: dict[str, Any] = {"error": code, "message": message}
    if field is not None:
        body["field"] = field
    return body


def error(status: int, code: str, message: str, field: str | None = None) -> Response:
    """An error answer (see `error_body`)."""
    response = jsonify(error_body(code, message, field))
    response.status_code = status
    return response


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def listing_state(listing: Listing, now: datetime) -> dict[str, Any]:
    """A listing as the lookup shows it, with what a copy of the list needs to follow it."""
    return {
        **listing_json(listing),
        "id": listing.id,
        "listed": listing.in_force_at(now),
        "removal_effective_at": _time(listing.removal_effective_at),
        "removed_at": _time(listing.removed_at),
        "changed_at": listing.changed_at.isoformat(),
    }
