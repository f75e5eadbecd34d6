"""The body of POST /api/v1/listings, checked field by field (a 400 names the field)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.errors import Invalid
from app.listing import blocklist
from app.listing.addresses import AddressError, IPNetwork, parse_network
from app.listing.hits import Evidence
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


@dataclass(frozen=True)
class Report:
    network: IPNetwork
    reason: str
    evidence: Evidence
    lifetime: Asked


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


def parse_report(body: dict[str, Any], *, source: str) -> Report:
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
    return Report(network, reason, evidence, _lifetime(body.get("expires_in")))
