"""Reports of abuse through the API: the body of POST /api/v1/listings (or one item of a
batch), checked field by field (a 400 names the field), and recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.api.answers import error_body, listing_state
from app.core.actor import Actor
from app.core.errors import Invalid
from app.extensions import db
from app.listing import blocklist, hits
from app.listing.addresses import AddressError, parse_network
from app.listing.blocklist import AddResult
from app.listing.guard import ListingRefused
from app.listing.hits import Evidence, Sighting
from app.listing.lifetimes import DEFAULT, Asked
from app.models import ListingEvidence

FIELDS = ("network", "reason", "evidence", "kind", "expires_in")
# What a machine reports unless it says: abuse someone or something saw and reported.
# "trap" and "filter" claim how it was caught, which only the caller knows; "operator"
# is for people.
DEFAULT_KIND = "report"


class FieldError(Exception):
    """One field of the input is wrong; str() says why, starting with the field's name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _text(body: dict[str, Any], field: str, *, required: bool) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise FieldError(field, "required")
        return None
    if not isinstance(value, str):
        raise FieldError(field, "must be a string")
    return value


def _lifetime(value: Any) -> Asked:
    if value is None:
        return DEFAULT
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("expires_in", "must be a whole number of seconds")
    try:
        return Asked(seconds=value)
    except Invalid as exc:
        raise FieldError("expires_in", str(exc)) from None


def parse_report(body: dict[str, Any], *, source: str) -> Sighting:
    """The report in `body`, its evidence credited to `source` (the key's name)."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"unknown field; the fields are {', '.join(FIELDS)}")
    try:
        network = parse_network(_text(body, "network", required=True) or "")
    except AddressError as exc:
        raise FieldError("network", str(exc)) from None
    try:
        reason = blocklist.checked_reason(_text(body, "reason", required=True) or "")
    except Invalid as exc:
        raise FieldError("reason", str(exc)) from None
    kind = _text(body, "kind", required=False) or DEFAULT_KIND
    if kind not in ListingEvidence.KINDS:
        raise FieldError("kind", f"one of {', '.join(ListingEvidence.KINDS)}")
    text = _text(body, "evidence", required=False)
    try:
        evidence = Evidence(kind, source=source, text=text or None)
    except Invalid as exc:
        raise FieldError("evidence", str(exc)) from None
    return Sighting(network, reason, evidence, _lifetime(body.get("expires_in")))


def parsed_or_error(body: Any, *, source: str) -> Sighting | FieldError:
    """The report in `body`, or what is wrong with it."""
    if not isinstance(body, dict):
        return FieldError("report", "must be a JSON object: {network, reason, ...}")
    try:
        return parse_report(body, source=source)
    except FieldError as exc:
        return exc


@dataclass(frozen=True)
class Outcome:
    """What one report came to: its HTTP status and the JSON answer for it."""

    status: int
    body: dict[str, Any]


def _outcome(answer: FieldError | AddResult | ListingRefused, now: datetime) -> Outcome:
    if isinstance(answer, FieldError):
        return Outcome(400, error_body("invalid_field", str(answer), answer.field))
    if isinstance(answer, ListingRefused):  # refused before anything was written
        return Outcome(422, error_body("refused", str(answer), "network"))
    return Outcome(201 if answer.created else 200, listing_state(answer.listing, now))


def _recorded(items: list[Sighting | FieldError], actor: Actor, now: datetime) -> list[Outcome]:
    sightings = [item for item in items if isinstance(item, Sighting)]
    results = iter(hits.report_all(sightings, actor=actor, now=now))
    # Answers are read before the commit expires the listings: each shows its listing as the
    # whole batch left it.
    return [
        _outcome(item if isinstance(item, FieldError) else next(results), now) for item in items
    ]


def record_reports(
    items: list[Sighting | FieldError], *, actor: Actor, now: datetime
) -> list[Outcome]:
    """Record every report (a listing, or a hit on it) and commit them together; a wrong or
    refused report is answered in its place and leaves the others standing.

    Tried twice: when another request listed one of the same networks at the same moment,
    the unique index refuses this one's insert, and on the second try that report is a hit.
    """
    for attempt in (1, 2):
        try:
            outcomes = _recorded(items, actor, now)
            db.session.commit()
            return outcomes
        except sa.exc.IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("not reached: the second try returns or raises")
