"""The write API: report abuse (POST), end a listing (DELETE), follow every change (GET).

Machines with a key (app.api.auth) call the same services as operators do: a report is
`app.listing.hits.report_abuse`, so the guard, lifetimes and hits work as on every path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, jsonify, request

from app.api import bp
from app.api.answers import error, listing_state
from app.api.auth import actor, caller, per_key_limit, requires
from app.api.reports import FieldError, Report, parse_report
from app.core.clock import utcnow
from app.core.errors import Invalid
from app.extensions import db
from app.listing import blocklist, hits
from app.listing.addresses import AddressError, parse_network
from app.listing.changes import Position, changes
from app.listing.guard import ListingRefused
from app.models import Listing

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@bp.post("/listings")
@per_key_limit
@requires("listings:write")
def report() -> Response:
    """List the network (201), or count a hit on the listing that blocks it (200)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "invalid_json", "send a JSON object: {network, reason, ...}")
    try:
        parsed = parse_report(body, source=caller().name)
    except FieldError as exc:
        return error(400, "invalid_field", str(exc), exc.field)
    try:
        created, answer = _reported(parsed, utcnow())
    except ListingRefused as exc:
        return error(422, "refused", str(exc), "network")
    response = jsonify(answer)
    response.status_code = 201 if created else 200
    return response


def _reported(parsed: Report, now: datetime) -> tuple[bool, dict[str, Any]]:
    """Report the abuse and commit: (listed anew?, the listing's answer). Tried twice: when
    another report listed the same network at once, this one is then a hit."""
    for attempt in (1, 2):
        try:
            result = hits.report_abuse(
                parsed.network,
                parsed.reason,
                parsed.evidence,
                actor=actor(),
                now=now,
                lifetime=parsed.lifetime,
            )
            answer = listing_state(result.listing, now)  # before the commit expires it
            db.session.commit()
            return result.created, answer
        except ListingRefused:
            db.session.rollback()
            raise
        except sa.exc.IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("not reached: the second try returns or raises")


@bp.delete("/listings/<path:network>")
@per_key_limit
@requires("listings:write")
def remove(network: str) -> Response:
    """End the listing of exactly this network now (audited with the key's name)."""
    try:
        parsed = parse_network(network)
    except AddressError as exc:
        return error(400, "invalid_field", f"network: {exc}", "network")
    now = utcnow()
    listing = blocklist.remove_listing(parsed, actor=actor(), now=now)
    if listing is None:
        return error(404, "not_listed", f"{parsed} is not listed (exactly this network)")
    db.session.commit()
    return jsonify(listing_state(listing, now))


def _page_request() -> tuple[Position | None, int]:
    args = request.args
    unknown = sorted(set(args) - {"changed_since", "cursor", "limit"})
    if unknown:
        raise FieldError(unknown[0], "unknown parameter")
    limit_text = args.get("limit", str(PAGE_SIZE))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE_SIZE:
        raise FieldError("limit", f"a whole number from 1 to {MAX_PAGE_SIZE}")
    if "cursor" in args and "changed_since" in args:
        raise FieldError("cursor", "give changed_since or cursor, not both")
    if "cursor" in args:
        try:
            return Position.from_cursor(args["cursor"]), int(limit_text)
        except Invalid as exc:
            raise FieldError("cursor", str(exc)) from None
    if "changed_since" in args:
        return Position(_aware_time(args["changed_since"])), int(limit_text)
    return None, int(limit_text)


def _aware_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FieldError("changed_since", "an ISO 8601 time, e.g. 2026-03-02T09:00:00Z") from None
    if value.tzinfo is None:
        raise FieldError("changed_since", "give the time zone, e.g. 2026-03-02T09:00:00Z")
    return value


@bp.get("/listings")
@per_key_limit
@requires("listings:read")
def changed() -> Response:
    """Listings changed since a time, oldest change first, a page at a time (`next`)."""
    try:
        start, limit = _page_request()
    except FieldError as exc:
        return error(400, "invalid_field", str(exc), exc.field)
    now = utcnow()
    page = changes(start, limit)
    body: dict[str, Any] = {
        "listings": [listing_state(listing, now) for listing in page.listings],
        "next": page.next.cursor() if page.next else None,
        "resume_since": _resume_since(page.listings, start),
    }
    return jsonify(body)


def _resume_since(listings: list[Listing], start: Position | None) -> str | None:
    """Where to poll from once the last page is read: the newest change seen, less the
    overlap that catches transactions which committed late (seeing a change twice is
    harmless). Without new changes it stays where it was, so polling never walks back."""
    if listings:
        return (listings[-1].changed_at - blocklist.CHANGES_OVERLAP).isoformat()
    if start is None:
        return None
    # A cursor's position (id > 0) was read to the end: reach back from it. A time the
    # caller gave (id 0) is already a resume_since: keep it.
    overlap = blocklist.CHANGES_OVERLAP if start.id else timedelta(0)
    return (start.changed_at - overlap).isoformat()
