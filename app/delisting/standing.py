"""The limits a submission is held to: one open request per IP, mails per mailbox, self-removals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.listing.addresses import IPAddress
from app.mail.mailbox import mailbox
from app.models import (
    OPEN_REQUEST_STATUSES,
    REMOVING_STATUSES,
    DelistRequest,
    OutboxMessage,
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
_REMOVALS_USED = (
    sa.select(sa.func.count())
    .select_from(DelistRequest)
    .where(
        DelistRequest.ip == sa.bindparam("ip"),
        DelistRequest.confirmed_at > sa.bindparam("window_start"),
        DelistRequest.status.in_(REMOVING_STATUSES),
    )
)
_OPEN_REQUEST = sa.select(DelistRequest.id).where(
    DelistRequest.ip == sa.bindparam("ip"), DelistRequest.status.in_(OPEN_REQUEST_STATUSES)
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


def _parameters(email: str, ip: str, now: datetime) -> dict[str, Any]:
    window = timedelta(days=current_app.config["SELF_DELIST_WINDOW_DAYS"])
    return {
        "mailbox": mailbox(email),
        "ip": ip,
        "day_ago": now - timedelta(days=1),
        "window_start": now - window,
    }


def _cap_reached(mails_today: int) -> bool:
    return mails_today >= current_app.config["MAIL_PER_RECIPIENT_PER_DAY"]


def _removals_left(used: int) -> int:
    return max(0, current_app.config["SELF_DELIST_MAX"] - used)


def standing(email: str, address: IPAddress, now: datetime) -> Standing:
    """The IP's open request and both counts, in one query."""
    row = db.session.execute(_STANDING, _parameters(email, str(address), now)).one()
    return Standing(row[0], _cap_reached(row[1]), _removals_left(row[2]))


def mail_cap_reached(email: str, now: datetime) -> bool:
    """Has this address had MAIL_PER_RECIPIENT_PER_DAY confirmation mails in 24 hours?"""
    return _cap_reached(db.session.scalar(_MAILS_TODAY, _parameters(email, "", now)) or 0)


def self_removals_left(address: IPAddress, now: datetime) -> int:
    """How many more self-service removals `address` may have in the current window."""
    used = db.session.scalar(_REMOVALS_USED, _parameters("", str(address), now)) or 0
    return _removals_left(used)
