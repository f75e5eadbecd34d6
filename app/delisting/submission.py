"""Submitting the form: open a request and mail its link, or say why not.

The view validates the form and passes a parsed address; this decides, queues
mail, and leaves the commit to the view.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from sqlalchemy.sql.dml import Insert

from app.core import audit, security_log, sql, transactions
from app.core.actor import WORKER, Actor
from app.core.errors import Conflict
from app.delisting import lifecycle, notices
from app.delisting.standing import Standing, mail_cap_reached, submission_facts
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import IPAddress
from app.mail import outbox
from app.mail.mailbox import mailbox
from app.models import (
    OPEN_REQUEST_WHERE,
    AuditEvent,
    DelistRequest,
    Listing,
    OutboxMessage,
    RequestStatus,
)


class Outcome(StrEnum):
    NOT_LISTED = "not_listed"
    CHECK_INBOX = "check_inbox"
    MAIL_RECENTLY_SENT = "mail_recently_sent"
    RANGE_REVIEW = "range_review"
    IN_REVIEW = "in_review"
    ALREADY_SCHEDULED = "already_scheduled"
    LIMIT_REVIEW = "limit_review"
    MAIL_CAP = "mail_cap"
    ALREADY_OPEN = "already_open"  # someone else's request holds the IP


# Outcomes that ask the sender to wait before trying again.
WAIT_OUTCOMES = frozenset({Outcome.MAIL_RECENTLY_SENT, Outcome.MAIL_CAP})


@dataclass(frozen=True)
class SubmitResult:
    """What happened. `delist_request` is the sender's own request, never someone else's."""

    outcome: Outcome
    delist_request: DelistRequest | None = None
    listing: Listing | None = None
    retry_at: datetime | None = None


def submit(
    email: str, address: IPAddress, *, actor: Actor, locale: str, now: datetime
) -> SubmitResult:
    """Handle one form submission; queue the confirmation mail when one is due.

    Two submissions for one IP can race to open its request: the loser's insert does
    nothing (ON CONFLICT on the open-request index), and it follows the winner's
    request. Nothing is rolled back, so the caller's transaction (a spent proof of
    work) stays intact.
    """
    result = _submit(email, address, actor, locale, now)
    if result is None:  # lost the race: the request is open now
        result = _submit(email, address, actor, locale, now)
    if result is None:
        raise Conflict(f"a request for {address} opened and closed at once; try again")
    security_log.event(
        "delist.submission",
        outcome=result.outcome.value,
        email=email,
        client=actor.client_address,
        ip=str(address),
    )
    return result


def _submit(
    email: str, address: IPAddress, actor: Actor, locale: str, now: datetime
) -> SubmitResult | None:
    facts = submission_facts(email, address, now)
    if facts is None:
        return SubmitResult(Outcome.NOT_LISTED)
    listing, known, next_id = facts
    current = db.session.get(DelistRequest, known.open_request) if known.open_request else None
    if current is not None and current.link_expired_at(now):
        lifecycle.close(current, RequestStatus.EXPIRED, "request.expired", WORKER, now)
        db.session.flush()
        current = None
    if current is None:
        if known.mail_cap_reached and not listing.is_range:
            return SubmitResult(Outcome.MAIL_CAP, None, listing)
        columns = _new_request(email, address, listing, actor, locale, now)
        if listing.is_range or known.removals_left == 0:
            return _open_for_review(columns, next_id, listing, actor, now)
        return _open(columns, next_id, listing, actor, now)
    own = mailbox(current.email) == mailbox(email)  # before a corrected address takes over
    result = _follow(current, email, listing, known, actor, locale, now)
    return result if own else _for_someone_else(result)


def _follow(
    current: DelistRequest,
    email: str,
    listing: Listing,
    known: Standing,
    actor: Actor,
    locale: str,
    now: datetime,
) -> SubmitResult:
    """The IP's open request, submitted again: say where it stands, or mail a new link."""
    if current.status == RequestStatus.SCHEDULED:
        return SubmitResult(Outcome.ALREADY_SCHEDULED, current, listing)
    if current.status == RequestStatus.NEEDS_REVIEW:
        return SubmitResult(Outcome.IN_REVIEW, current, listing)
    if known.mail_cap_reached:
        return SubmitResult(Outcome.MAIL_CAP, current, listing)
    return _resend(current, email, listing, actor, locale, now)


def _for_someone_else(result: SubmitResult) -> SubmitResult:
    """What a sender may learn of a request sent from another mailbox: that it is open.

    A corrected address still takes a pending request over, but learns that only
    from the link we mail it; the request's page, state and earlier mail stay private.
    """
    if result.outcome in (Outcome.CHECK_INBOX, Outcome.MAIL_CAP):
        return SubmitResult(result.outcome, None, result.listing)
    return SubmitResult(Outcome.ALREADY_OPEN, None, result.listing)


def _new_request(
    email: str, address: IPAddress, listing: Listing, actor: Actor, locale: str, now: datetime
) -> dict[str, Any]:
    """The columns of a new request for `address`, open from `now`."""
    return {
        "public_id": secrets.token_urlsafe(16),
        "email": email,
        "ip": str(address),
        "listing_id": listing.id,
        "locale": locale,
        "client_address": actor.client_address,
        "created_at": now,
    }


def _insert() -> Insert:
    """The INSERT of a new request (its values given when it runs); it does nothing when
    the IP has an open request already (another submission opened it first)."""
    return _insert_into(sql.dialect_name())


@functools.cache
def _insert_into(dialect: str) -> Insert:
    """Built once per database: app.core.transactions.insert_family caches statements by it."""
    return sql.insert(DelistRequest, dialect).on_conflict_do_nothing(
        index_elements=[DelistRequest.ip], index_where=OPEN_REQUEST_WHERE
    )


def _open(
    columns: dict[str, Any], next_id: int | None, listing: Listing, actor: Actor, now: datetime
) -> SubmitResult | None:
    """A new pending request and its link by mail, or None when another submission opened
    one for this IP first.

    The request, its audit event and its mail go in together (app.core.transactions.insert_family):
    on PostgreSQL as one statement, its link signed beforehand for the id taken by the
    read (`next_id`); on SQLite the request first, numbered as it is inserted. Everything
    the mail says is rendered before the first write (app.core.stored_renders).
    """
    nonce, link = notices.link_fields(now)
    columns = {**columns, "status": RequestStatus.PENDING, **link}

    def rows_for(request_id: int) -> list[tuple[Any, dict[str, Any]]]:
        submitted = audit.row(
            "request.submitted",
            actor=actor,
            now=now,
            listing_id=listing.id,
            request_id=request_id,
        )
        mail = notices.confirmation_row(columns, request_id, nonce, now)
        return [(AuditEvent, submitted), (OutboxMessage, mail)]

    delist_request = transactions.insert_family(
        DelistRequest, _insert(), columns, next_id, rows_for
    )
    if delist_request is None:
        return None
    return SubmitResult(Outcome.CHECK_INBOX, delist_request, listing)


def _open_for_review(
    columns: dict[str, Any], next_id: int | None, listing: Listing, actor: Actor, now: datetime
) -> SubmitResult | None:
    """A new request for an operator: a range, or an IP past its self-service removals
    (numbered with the id the read took, if it took one)."""
    columns = {**columns, "status": RequestStatus.NEEDS_REVIEW}
    if next_id is not None:
        columns["id"] = next_id
    # Not insert_family: its one-statement write commits on its own, and more writes follow.
    delist_request = db.session.scalars(
        _insert().values(**columns).returning(DelistRequest)
    ).first()
    if delist_request is None:
        return None
    audit.record(
        "request.submitted", actor=actor, now=now, delist_request=delist_request, listing=listing
    )
    if listing.is_range:
        why = f"listed through the range {listing.network}"
        lifecycle.to_review(delist_request, listing, actor, now, why)
        return SubmitResult(Outcome.RANGE_REVIEW, delist_request, listing)
    lifecycle.to_review(delist_request, listing, actor, now, "self-service removals used up")
    return SubmitResult(Outcome.LIMIT_REVIEW, delist_request, listing)


def _resend(
    delist_request: DelistRequest,
    email: str,
    listing: Listing,
    actor: Actor,
    locale: str,
    now: datetime,
) -> SubmitResult:
    """A new link for a pending request, at most once per interval per address."""
    interval = timedelta(seconds=current_app.config["MAIL_RESEND_INTERVAL_SECONDS"])
    last = outbox.last_mail_to(email, delist_request)
    if last is not None and now < last + interval:
        return SubmitResult(
            Outcome.MAIL_RECENTLY_SENT, delist_request, listing, retry_at=last + interval
        )
    if delist_request.email != email:
        # A corrected address takes over; the earlier link stops working.
        delist_request.email = email
        audit.record(
            "request.recipient_changed", actor=actor, now=now, delist_request=delist_request
        )
    delist_request.locale = locale
    notices.mail_new_link(delist_request, listing, now)
    audit.record("request.link_reissued", actor=actor, now=now, delist_request=delist_request)
    return SubmitResult(Outcome.CHECK_INBOX, delist_request, listing)


def resend_link(
    delist_request: DelistRequest, *, actor: Actor, now: datetime
) -> SubmitResult | None:
    """The sender asks again from the status page: same rules as sending the form again.

    None when the request needs no new link (not pending, or nothing to remove by link).
    """
    listing = blocklist.find_listing(delist_request.address, now)
    if delist_request.status != RequestStatus.PENDING or listing is None or listing.is_range:
        return None
    if mail_cap_reached(delist_request.email, now):
        return SubmitResult(Outcome.MAIL_CAP, delist_request, listing)
    return _resend(delist_request, delist_request.email, listing, actor, delist_request.locale, now)
