"""The delist request lifecycle: submit, confirm, schedule, expire.

Views call these functions and commit; the functions never read the request
or the clock themselves (`now` is passed in, read once per decision).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core import audit, security_log
from app.core.urls import public_url
from app.delisting.tokens import (
    ConfirmToken,
    TokenError,
    hash_nonce,
    new_nonce,
    read_confirmation,
    sign_confirmation,
)
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import IPAddress, parse_address
from app.mail import outbox
from app.models import OPEN_REQUEST_STATUSES, DelistRequest, Listing, OutboxMessage


class Outcome(StrEnum):
    NOT_LISTED = "not_listed"
    CHECK_INBOX = "check_inbox"
    MAIL_RECENTLY_SENT = "mail_recently_sent"
    RANGE_REVIEW = "range_review"
    IN_REVIEW = "in_review"
    ALREADY_SCHEDULED = "already_scheduled"
    LIMIT_REVIEW = "limit_review"
    MAIL_CAP = "mail_cap"


@dataclass(frozen=True)
class SubmitResult:
    outcome: Outcome
    request: DelistRequest | None = None
    listing: Listing | None = None
    retry_at: datetime | None = None


def submit(
    email: str, address: IPAddress, *, client_address: str | None, locale: str, now: datetime
) -> SubmitResult:
    """Handle one form submission; queue the confirmation mail when one is due."""
    try:
        result = _submit(email, address, client_address, locale, now)
    except sa.exc.IntegrityError:
        # Another submission for this IP opened the request first: follow it.
        db.session.rollback()
        result = _submit(email, address, client_address, locale, now)
    security_log.event(
        "delist.submission", outcome=result.outcome.value, email=email, ip=str(address)
    )
    return result


def _submit(
    email: str, address: IPAddress, client_address: str | None, locale: str, now: datetime
) -> SubmitResult:
    listing = blocklist.find_listing(address, now)
    if listing is None:
        return SubmitResult(Outcome.NOT_LISTED)
    standing = _standing(email, str(address), now)
    current = (
        db.session.get(DelistRequest, standing.open_request) if standing.open_request else None
    )
    if current is not None and current.status == "pending" and current.expires_at <= now:
        _expire(current, now)
        db.session.flush()
        current = None
    if current is None:
        if standing.mail_cap_reached and not listing.is_range:
            return SubmitResult(Outcome.MAIL_CAP, None, listing)
        return _open(email, address, listing, standing.removals_left, client_address, locale, now)
    if current.status == "scheduled":
        return SubmitResult(Outcome.ALREADY_SCHEDULED, current, listing)
    if current.status == "needs_review":
        return SubmitResult(Outcome.IN_REVIEW, current, listing)
    if standing.mail_cap_reached:
        return SubmitResult(Outcome.MAIL_CAP, current, listing)
    return _resend(current, email, listing, client_address, locale, now)


# The counts the submission rules use, as statements built once with bound parameters:
# a submission runs them on every send, and building the expressions costs more than
# the database takes to answer them.
_MAILS_TODAY = (
    sa.select(sa.func.count())
    .select_from(OutboxMessage)
    .where(
        OutboxMessage.recipient == sa.bindparam("email"),
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
        DelistRequest.status.in_(("scheduled", "done")),
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


def _counts_parameters(email: str, ip: str, now: datetime) -> dict:
    window = timedelta(days=current_app.config["SELF_DELIST_WINDOW_DAYS"])
    return {
        "email": email,
        "ip": ip,
        "day_ago": now - timedelta(days=1),
        "window_start": now - window,
    }


def _cap_reached(mails_today: int) -> bool:
    return mails_today >= current_app.config["MAIL_PER_RECIPIENT_PER_DAY"]


def _removals_left(used: int) -> int:
    return max(0, current_app.config["SELF_DELIST_MAX"] - used)


def _standing(email: str, ip: str, now: datetime) -> Standing:
    """The IP's open request and both counts, in one query."""
    row = db.session.execute(_STANDING, _counts_parameters(email, ip, now)).one()
    return Standing(row[0], _cap_reached(row[1]), _removals_left(row[2]))


def mail_cap_reached(email: str, now: datetime) -> bool:
    """Has this address had MAIL_PER_RECIPIENT_PER_DAY confirmation mails in 24 hours?"""
    return _cap_reached(db.session.scalar(_MAILS_TODAY, _counts_parameters(email, "", now)))


def self_removals_left(ip: str, now: datetime) -> int:
    """How many more self-service removals `ip` may have in the current window."""
    return _removals_left(db.session.scalar(_REMOVALS_USED, _counts_parameters("", ip, now)))


def _open(
    email: str,
    address: IPAddress,
    listing: Listing,
    removals_left: int,
    client_address: str | None,
    locale: str,
    now: datetime,
) -> SubmitResult:
    over_limit = not listing.is_range and removals_left == 0
    request = DelistRequest(
        public_id=secrets.token_urlsafe(16),
        email=email,
        ip=str(address),
        listing_id=listing.id,
        status="needs_review" if listing.is_range or over_limit else "pending",
        locale=locale,
        client_address=client_address,
        created_at=now,
    )
    # The link's nonce goes in with the row, so the insert needs no update after it.
    nonce = _new_link(request, now) if request.status == "pending" else None
    db.session.add(request)
    db.session.flush()  # the open-request index refuses a duplicate here
    audit.record(
        "request.submitted",
        actor="sender",
        now=now,
        request=request,
        listing=listing,
        client_address=client_address,
    )
    if listing.is_range:
        _to_review(request, listing, now)
        return SubmitResult(Outcome.RANGE_REVIEW, request, listing)
    if over_limit:
        _to_review(request, listing, now, why="self-service removals used up")
        return SubmitResult(Outcome.LIMIT_REVIEW, request, listing)
    _mail_link(request, listing, nonce, now)
    return SubmitResult(Outcome.CHECK_INBOX, request, listing)


def _to_review(
    request: DelistRequest, listing: Listing, now: datetime, why: str | None = None
) -> None:
    """Ranges, and addresses past their self-service limit, go to an operator."""
    request.status = "needs_review"
    audit.record(
        "request.needs_review",
        actor="sender",
        now=now,
        request=request,
        listing=listing,
        detail=why or f"listed through the range {listing.network}",
    )


def _resend(
    request: DelistRequest,
    email: str,
    listing: Listing,
    client_address: str | None,
    locale: str,
    now: datetime,
) -> SubmitResult:
    """A new link for a pending request, at most once per interval per address."""
    interval = timedelta(seconds=current_app.config["MAIL_RESEND_INTERVAL_SECONDS"])
    last = outbox.last_mail_to(email, request)
    if last is not None and now < last + interval:
        return SubmitResult(Outcome.MAIL_RECENTLY_SENT, request, listing, retry_at=last + interval)
    if request.email != email:
        # A corrected address takes over; the earlier link stops working.
        request.email = email
        audit.record(
            "request.recipient_changed",
            actor="sender",
            now=now,
            request=request,
            client_address=client_address,
        )
    request.locale = locale
    _queue_confirmation(request, listing, now)
    audit.record(
        "request.link_reissued",
        actor="sender",
        now=now,
        request=request,
        client_address=client_address,
    )
    return SubmitResult(Outcome.CHECK_INBOX, request, listing)


def _queue_confirmation(request: DelistRequest, listing: Listing, now: datetime) -> None:
    """A new link for a request that had one: older links stop working and are not sent."""
    outbox.cancel_unsent(request, "confirmation")
    _mail_link(request, listing, _new_link(request, now), now)


def _new_link(request: DelistRequest, now: datetime) -> str:
    """A fresh nonce for `request`'s link, which expires CONFIRM_TOKEN_MAX_AGE_SECONDS from now."""
    nonce = new_nonce()
    request.nonce_hash = hash_nonce(nonce)
    request.expires_at = now + timedelta(
        seconds=current_app.config["CONFIRM_TOKEN_MAX_AGE_SECONDS"]
    )
    return nonce


def _mail_link(request: DelistRequest, listing: Listing, nonce: str, now: datetime) -> None:
    token = sign_confirmation(request.id, nonce)
    _mail_sender(
        request,
        "confirmation",
        "confirm",
        _l("Confirm the removal of %(ip)s from our blocked-senders list", ip=request.ip),
        {
            "listing": listing,
            "confirm_url": public_url("portal.confirm", token=token),
            "valid_seconds": current_app.config["CONFIRM_TOKEN_MAX_AGE_SECONDS"],
            "delay_seconds": current_app.config["DELIST_DELAY_SECONDS"],
        },
        now,
        secret=token,
    )


def _mail_sender(request, kind, template, subject, context, now, secret=None) -> None:
    """Queue mail about `request` to its sender, in the sender's language."""
    outbox.enqueue(
        kind,
        recipient=request.email,
        subject=subject,
        template=template,
        context={
            "request": request,
            "status_url": public_url("portal.status", public_id=request.public_id),
            **context,
        },
        now=now,
        request=request,
        secret=secret,
        locale=request.locale,
    )


def _matching_request(token: ConfirmToken) -> DelistRequest:
    request = db.session.get(DelistRequest, token.request_id)
    if request is None or not request.nonce_hash:
        raise TokenError.invalid()
    if not hmac.compare_digest(request.nonce_hash, token.nonce_hash):
        raise TokenError.invalid()
    return request


def _check_usable(request: DelistRequest, now: datetime) -> None:
    if request.confirmed_at is not None:
        raise TokenError.used(request)
    if request.status == "expired" or (request.status == "pending" and request.expires_at <= now):
        raise TokenError.expired()
    if request.status != "pending":
        raise TokenError.invalid()


def open_confirmation(token_text: str, now: datetime) -> tuple[DelistRequest, Listing | None]:
    """The request behind a link and the listing it would remove; changes nothing."""
    request = _matching_request(read_confirmation(token_text))
    _check_usable(request, now)
    return request, blocklist.find_listing(parse_address(request.ip), now)


def confirm(token_text: str, *, client_address: str | None, now: datetime) -> DelistRequest:
    """Consume the link once and schedule the removal; raise TokenError otherwise."""
    token = read_confirmation(token_text)
    request = _matching_request(token)
    claimed = db.session.execute(
        sa.update(DelistRequest)
        .where(
            DelistRequest.id == request.id,
            DelistRequest.status == "pending",
            DelistRequest.nonce_hash == token.nonce_hash,
            DelistRequest.expires_at > now,
            DelistRequest.confirmed_at.is_(None),
        )
        .values(status="scheduled", confirmed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(request)
    if not claimed:
        _check_usable(request, now)
        raise TokenError.invalid()
    audit.record(
        "request.confirmed", actor="sender", now=now, request=request, client_address=client_address
    )
    listing = blocklist.find_listing(parse_address(request.ip), now)
    if listing is None:
        request.status = "done"
        request.removal_effective_at = now
        request.closed_at = now
        audit.record("request.done", actor="sender", now=now, request=request, detail="not listed")
    elif listing.is_range:
        _to_review(request, listing, now)
    else:
        _schedule(request, listing, actor="sender", now=now)
    return request


def _schedule(request: DelistRequest, listing: Listing, *, actor: str, now: datetime) -> None:
    """The removal takes effect DELIST_DELAY_SECONDS from now (or earlier, if so scheduled)."""
    delay = timedelta(seconds=current_app.config["DELIST_DELAY_SECONDS"])
    request.status = "scheduled"
    request.listing_id = listing.id
    request.removal_effective_at = blocklist.schedule_removal(
        listing, now + delay, request=request, actor=actor, now=now
    )


def _expire(request: DelistRequest, now: datetime) -> None:
    request.status = "expired"
    request.closed_at = now
    audit.record("request.expired", actor="worker", now=now, request=request)


def expire_stale_requests(now: datetime, limit: int = 1000) -> int:
    """Close pending requests whose link has expired; return how many."""
    stale = db.session.scalars(
        sa.select(DelistRequest)
        .where(DelistRequest.status == "pending", DelistRequest.expires_at <= now)
        .limit(limit)
    ).all()
    for request in stale:
        _expire(request, now)
    return len(stale)


def find_by_public_id(public_id: str) -> DelistRequest | None:
    if not 10 <= len(public_id) <= 32:
        return None
    return db.session.scalar(sa.select(DelistRequest).where(DelistRequest.public_id == public_id))


def sender_status(request: DelistRequest, now: datetime) -> str:
    """The request's state as the sender sees it at `now` (time-based, like lookups)."""
    effective = request.removal_effective_at
    if request.status in ("scheduled", "done") and effective is not None and effective <= now:
        return "removed"
    if request.status == "pending" and request.expires_at <= now:
        return "expired"
    return request.status


def _queue_decision(request: DelistRequest, approved: bool, why: str, now: datetime) -> None:
    _mail_sender(
        request,
        "decision",
        "decision",
        _l("Your request to remove %(ip)s from our blocked-senders list", ip=request.ip),
        {"approved": approved, "why": why},
        now,
    )


def finish_due_requests(now: datetime, limit: int = 1000) -> int:
    """Close requests whose removal has taken effect, and tell each sender by mail."""
    due = db.session.scalars(
        sa.select(DelistRequest)
        .where(DelistRequest.status == "scheduled", DelistRequest.removal_effective_at <= now)
        .order_by(DelistRequest.removal_effective_at)
        .limit(limit)
    ).all()
    for request in due:
        request.status = "done"
        request.closed_at = now
        audit.record("request.done", actor="worker", now=now, request=request)
        _mail_sender(
            request,
            "removed",
            "removed",
            _l("%(ip)s is no longer on our blocked-senders list", ip=request.ip),
            {"help_url": public_url("portal.help")},
            now,
        )
    return len(due)


def approve(request: DelistRequest, *, actor: str, why: str, now: datetime) -> None:
    """An operator lets a reviewed request through: the removal is scheduled as usual."""
    if request.status != "needs_review":
        raise ValueError(f"request is {request.status}, not waiting for review")
    listing = blocklist.find_listing(parse_address(request.ip), now)
    audit.record("request.approved", actor=actor, now=now, request=request, detail=why)
    if listing is None:
        request.status = "done"
        request.removal_effective_at = now
        request.closed_at = now
    else:
        _schedule(request, listing, actor=actor, now=now)
    _queue_decision(request, True, why, now)


def deny(request: DelistRequest, *, actor: str, why: str, now: datetime) -> None:
    """An operator refuses a reviewed request; the sender is told why."""
    if request.status != "needs_review":
        raise ValueError(f"request is {request.status}, not waiting for review")
    request.status = "denied"
    request.closed_at = now
    audit.record("request.denied", actor=actor, now=now, request=request, detail=why)
    _queue_decision(request, False, why, now)


def resend_link(request: DelistRequest, *, client_address: str | None, now: datetime):
    """The sender asks again from the status page: same rules as sending the form again."""
    listing = blocklist.find_listing(parse_address(request.ip), now)
    if request.status != "pending" or listing is None or listing.is_range:
        return None
    if mail_cap_reached(request.email, now):
        return SubmitResult(Outcome.MAIL_CAP, request, listing)
    return _resend(request, request.email, listing, client_address, request.locale, now)


def send_new_link(request: DelistRequest, *, actor: str, now: datetime) -> None:
    """A fresh confirmation link for a pending request (the older one stops working)."""
    listing = blocklist.find_listing(parse_address(request.ip), now)
    if request.status != "pending" or listing is None:
        raise ValueError("only a pending request for a listed address can get a new link")
    _queue_confirmation(request, listing, now)
    audit.record("request.link_reissued", actor=actor, now=now, request=request)
