"""The write API: report abuse (POST), end a listing (DELETE), follow every change (GET).

Machines with a key (app.api.auth) call the same services as operators do: a report is
`app.listing.hits.report_abuse`, so the guard, lifetimes and hits work as on every path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Response, jsonify, request

from app.api import bp
from app.api.answers import error, listing_state
from app.api.auth import actor, caller, per_key_limit, requires
from app.api.reports import FieldError, Outcome, parsed_or_error, record_reports
from app.core.clock import utcnow
from app.core.errors import Invalid
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import AddressError, parse_network
from app.listing.changes import Position, changes
from app.models import Listing

PAGE_SIZE = 100
# Reports in one batch: enough for a trap's burst, small enough for one short transaction.
BATCH_LIMIT = 500
MAX_PAGE_SIZE = 1000


@bp.post("/listings")
@per_key_limit
@requires("listings:write")
def report() -> Response:
    """List the network (201), or count a hit on the listing that blocks it (200)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "invalid_json", "send a JSON object: {network, reason, ...}")
    item = parsed_or_error(body, source=caller().name)
    [outcome] = record_reports([item], actor=actor(), now=utcnow())
    response = jsonify(outcome.body)
    response.status_code = outcome.status
    return response


@bp.post("/listings/batch")
@per_key_limit
@requires("listings:write")
def report_many() -> Response:
    """Up to BATCH_LIMIT reports in one request and one commit, each answered in its place."""
    body = request.get_json(silent=True)
    reports = body.get("reports") if isinstance(body, dict) and set(body) == {"reports"} else None
    if not isinstance(reports, list) or not 1 <= len(reports) <= BATCH_LIMIT:
        return error(400, "invalid_json", f'send {{"reports": [...]}}: 1 to {BATCH_LIMIT} reports')
    items = [parsed_or_error(report, source=caller().name) for report in reports]
    outcomes = record_reports(items, actor=actor(), now=utcnow())
    return jsonify(results=[_result(outcome) for outcome in outcomes])


def _result(outcome: Outcome) -> dict[str, Any]:
    """One report's place in a batch answer: its status, and its listing or its error."""
    part = "listing" if outcome.status < 400 else "error"
    return {"status": outcome.status, part: outcome.body}


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
