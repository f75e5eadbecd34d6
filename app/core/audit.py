"""The audit trail: one row per change, written in the caller's transaction; and reading it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

import sqlalchemy as sa

from app.core import security_log
from app.core.actor import Actor
from app.extensions import db
from app.models import AuditEvent, DelistRequest, Listing


def row(
    action: str,
    *,
    actor: Actor,
    now: datetime,
    listing_id: int | None = None,
    request_id: int | None = None,
    detail: str | None = None,
) -> dict[str, object]:
    """The columns of an audit event for `action` by `actor`, logged as recorded: for a
    caller that inserts the row itself (with other rows, in one statement)."""
    security_log.event(
        action,
        actor=actor.name,
        client=actor.client_address,
        request=request_id,
        listing=listing_id,
    )
    return {
        "at": now,
        "actor": actor.name,
        "action": action,
        "listing_id": listing_id,
        "request_id": request_id,
        "client_address": actor.client_address,
        "detail": detail,
    }


def record(
    action: str,
    *,
    actor: Actor,
    now: datetime,
    listing: Listing | None = None,
    delist_request: DelistRequest | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Add an audit event for `action` (e.g. "request.submitted") by `actor`, from its address."""
    event = AuditEvent(
        **row(
            action,
            actor=actor,
            now=now,
            listing_id=listing.id if listing else None,
            request_id=delist_request.id if delist_request else None,
            detail=detail,
        )
    )
    db.session.add(event)
    return event


def record_for_listings(
    action: str, *, actor: Actor, now: datetime, listing_ids: list[int]
) -> None:
    """Add one `action` event per listing in one INSERT ... SELECT (a batch the worker
    finalised), each logged as `record` logs it."""
    if not listing_ids:
        return
    columns = ("at", "actor", "action", "listing_id")
    rows = sa.select(
        sa.literal(now, AuditEvent.at.type),
        sa.literal(actor.name),
        sa.literal(action),
        Listing.id,
    ).where(Listing.id.in_(listing_ids))
    db.session.execute(sa.insert(AuditEvent).from_select(columns, rows))
    for listing_id in listing_ids:
        security_log.event(action, actor=actor.name, client=None, request=None, listing=listing_id)


def record_many(
    action: str, *, actor: Actor, now: datetime, events: list[tuple[int, str | None]]
) -> None:
    """Add an `action` event for each (listing id, detail) in one INSERT, each logged as
    `record` logs it (hits reported in a batch)."""
    _insert_events(
        action, actor, now, [(listing_id, None, detail) for listing_id, detail in events]
    )


def record_for_requests(
    action: str, *, actor: Actor, now: datetime, events: list[tuple[int | None, str | None]]
) -> None:
    """Add an `action` event for each (request id or None, detail) in one INSERT, each logged
    as `record` logs it (mail the worker delivered in a batch)."""
    _insert_events(
        action, actor, now, [(None, request_id, detail) for request_id, detail in events]
    )


def _insert_events(
    action: str,
    actor: Actor,
    now: datetime,
    events: list[tuple[int | None, int | None, str | None]],
) -> None:
    """One INSERT of (listing id, request id, detail) events, each logged as `row` logs it."""
    if not events:
        return
    rows = [
        row(action, actor=actor, now=now, listing_id=listing, request_id=request, detail=detail)
        for listing, request, detail in events
    ]
    db.session.execute(sa.insert(AuditEvent), rows)


FILTERS = ("actor", "action", "q")  # who (a prefix), what (a prefix), words of the detail
MAX_FILTER_LENGTH = 254
CSV_COLUMNS = (
    AuditEvent.id,
    AuditEvent.at,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.listing_id,
    AuditEvent.request_id,
    AuditEvent.client_address,
    AuditEvent.detail,
)


def filters_from(args: Mapping[str, str]) -> dict[str, str]:
    """The filters a search asks for, trimmed; empty when not asked."""
    return {name: args.get(name, "").strip()[:MAX_FILTER_LENGTH] for name in FILTERS}


def search(filters: Mapping[str, str]) -> sa.Select[AuditEvent]:
    """Events matching every filter given (see FILTERS)."""
    statement = sa.select(AuditEvent)
    if filters["actor"]:
        statement = statement.where(AuditEvent.actor.startswith(filters["actor"], autoescape=True))
    if filters["action"]:
        statement = statement.where(
            AuditEvent.action.startswith(filters["action"], autoescape=True)
        )
    if filters["q"]:
        statement = statement.where(AuditEvent.detail.contains(filters["q"], autoescape=True))
    return statement


def csv_rows(statement: sa.Select[AuditEvent]) -> Iterator[list[object]]:
    """The events of `statement` as CSV rows (CSV_COLUMNS), oldest first."""
    plain = statement.with_only_columns(*CSV_COLUMNS).order_by(AuditEvent.id)
    # Plain rows on the connection, a batch at a time: the trail can be millions long.
    for row in db.session.connection().execute(plain.execution_options(yield_per=5000)):
        yield [row.id, row.at.isoformat(), *row[2:]]
