"""The operators' list of delist requests: by status, by the sender's email or the IP."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.paging import Page, newest_first
from app.listing.addresses import AddressError, parse_address
from app.models import REQUEST_STATUSES, DelistRequest

MAX_QUERY_LENGTH = 254


def _matching(q: str) -> sa.ColumnElement[bool]:
    """An IP address matches exactly; anything else is part of the email address."""
    try:
        return DelistRequest.ip == str(parse_address(q))
    except AddressError:
        return sa.func.lower(DelistRequest.email).contains(q.lower(), autoescape=True)


def find_requests(status: str, q: str, after: int | None) -> Page:
    """Requests newest first; `status` filters when it is one, `q` when it is not empty."""
    statement = sa.select(DelistRequest)
    if status in REQUEST_STATUSES:
        statement = statement.where(DelistRequest.status == status)
    q = q.strip()[:MAX_QUERY_LENGTH]
    if q:
        statement = statement.where(_matching(q))
    return newest_first(statement, DelistRequest.id, after)
