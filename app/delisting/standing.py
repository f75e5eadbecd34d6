"""The limits a submission is held to: one open request per IP, mails per mailbox, self-removals."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app

from app.core import sql
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import IPAddress
from app.mail.mailbox import mailbox
from app.models import (
    OPEN_REQUEST_STATUSES,
    REMOVING_STATUSES,
    DelistRequest,
    Listing,
    OutboxMessage,
    status_in,
)

# The counts the submission rules use, as statements built once with bound parameters:
# a submission runs them on every send, and building the expressions costs more than
# the database takes to answer them.
_MAILS_TODAY = (
    sa.select(sa.func.count())
    .select_from(OutboxMessage)
    .where(
        OutboxMessage.recipient_mailbox == sa.bindparam("mailbox"),
        OutboxMessage.created_at > sa.bindparam("day_ago"),
        OutboxMessage.kind == "confirmation",
    )
)


def _removals_used(ip: sa.SQLColumnExpression[str]) -> sa.Select[Any]:
    """How many of `ip`'s requests were confirmed as self-service removals in the window
    (from the `window_start` parameter): for a bound IP, or an outer query's column."""
    counted = so.aliased(DelistRequest)
    return (
        sa.select(sa.func.count())
        .select_from(counted)
        .where(
            counted.ip == ip,
            counted.confirmed_at > sa.bindparam("window_start"),
            status_in(counted.status, REMOVING_STATUSES),
        )
    )


_REMOVALS_USED = _removals_used(sa.bindparam("ip"))
# A request by id, and how many self-service removals its IP has used in the window.
REQUEST_WITH_REMOVALS_USED = sa.select(
    DelistRequest, _removals_used(DelistRequest.ip).scalar_subquery()
).where(DelistRequest.id == sa.bindparam("request_id"))
_OPEN_REQUEST = sa.select(DelistRequest.id).where(
    DelistRequest.ip == sa.bindparam("ip"), status_in(DelistRequest.status, OPEN_REQUEST_STATUSES)
)
_STANDING = sa.select(
    _OPEN_REQUEST.scalar_subquery(),
    _MAILS_TODAY.scalar_subquery(),
    _REMOVALS_USED.scalar_subquery(),
)


@dataclass(frozen=True)
class Standing:
    """What the rules need to know about one email address and one IP."""

    open_request: int | None  # the id of the IP's open request
    mail_cap_reached: bool  # MAIL_PER_RECIPIENT_PER_DAY confirmation mails in 24 hours
    removals_left: int  # self-service removals the IP may still have in the window


def _window_start(now: datetime) -> datetime:
    return now - timedelta(days=current_app.config["SELF_DELIST_WINDOW_DAYS"])


def _parameters(email: str, ip: str, now: datetime) -> dict[str, Any]:
    return {
        "mailbox": mailbox(email),
        "ip": ip,
        "day_ago": now - timedelta(days=1),
        "window_start": _window_start(now),
    }


def _cap_reached(mails_today: int) -> bool:
    return mails_today >= current_app.config["MAIL_PER_RECIPIENT_PER_DAY"]


def _removals_left(used: int) -> int:
    return max(0, current_app.config["SELF_DELIST_MAX"] - used)


@functools.cache
def _submission_facts(probes: int, dialect: str) -> sa.Select[Any]:
    """The listing probes' candidates, each with the standing beside it, and on PostgreSQL
    the id a new request would take (see `submission_facts`), built once per shape.

    The standing's subqueries do not depend on the row: both databases run them once.
    """
    open_request = _OPEN_REQUEST.scalar_subquery()
    mails_today = _MAILS_TODAY.scalar_subquery()
    next_id: sa.ColumnElement[Any]
    if dialect == "postgresql":
        # Only when a request may open: no open one, and (for a single address) mail left.
        may_open = sa.and_(open_request.is_(None), mails_today < sa.bindparam("mail_cap"))
        next_id = sa.case((may_open, sql.next_id(DelistRequest)))
    else:  # SQLite numbers the row as it inserts it
        next_id = sa.null()
    listed = so.aliased(Listing, blocklist.probes(probes).subquery("listed"))
    return sa.select(
        listed,
        open_request.label("open_request"),
        mails_today.label("mails_today"),
        _REMOVALS_USED.scalar_subquery().label("removals_used"),
        next_id.label("next_id"),
    )


class SubmissionFacts(NamedTuple):
    listing: Listing
    standing: Standing
    next_id: int | None  # PostgreSQL: the id a new request takes (see submission_facts)


def submission_facts(email: str, address: IPAddress, now: datetime) -> SubmissionFacts | None:
    """In one query: the listing that blocks `address` at `now` (None when there is none),
    the standing, and on PostgreSQL the id a new request would take (None on SQLite, when
    the IP has an open request, or when the mailbox has had its mail for the day). Taking
    that id lets the link be signed before anything is written; a gap in the numbers is
    left only when a candidate listing turns out to have ended (NOT_LISTED)."""
    probe = blocklist.probe_parameters(address)
    if probe is None:
        return None
    count, params = probe
    statement = _submission_facts(count, sql.dialect_name())
    params |= _parameters(email, str(address), now)
    params["mail_cap"] = current_app.config["MAIL_PER_RECIPIENT_PER_DAY"]
    rows = db.session.execute(statement, params).all()
    listing = blocklist.most_specific_in_force([row[0] for row in rows], now)
    if listing is None:
        return None
    first = rows[0]  # every row has the same standing; on PostgreSQL, any row's new id
    known = Standing(
        first.open_request, _cap_reached(first.mails_today), _removals_left(first.removals_used)
    )
    return SubmissionFacts(listing, known, first.next_id)


def standing(email: str, address: IPAddress, now: datetime) -> Standing:
    """The IP's open request and both counts, in one query."""
    row = db.session.execute(_STANDING, _parameters(email, str(address), now)).one()
    return Standing(row[0], _cap_reached(row[1]), _removals_left(row[2]))


def mail_cap_reached(email: str, now: datetime) -> bool:
    """Has this address had MAIL_PER_RECIPIENT_PER_DAY confirmation mails in 24 hours?"""
    return _cap_reached(db.session.scalar(_MAILS_TODAY, _parameters(email, "", now)) or 0)


def request_and_removals_left(request_id: int, now: datetime) -> tuple[DelistRequest, int] | None:
    """The request with this id and its IP's self-service removals left, in one query."""
    params = {"request_id": request_id, "window_start": _window_start(now)}
    row = db.session.execute(REQUEST_WITH_REMOVALS_USED, params).first()
    if row is None:
        return None
    delist_request, used = row
    return delist_request, _removals_left(used)


def self_removals_left(address: IPAddress, now: datetime) -> int:
    """How many more self-service removals `address` may have in the current window."""
    used = db.session.scalar(_REMOVALS_USED, _parameters("", str(address), now)) or 0
    return _removals_left(used)
