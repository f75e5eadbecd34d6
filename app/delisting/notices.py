"""Mail to the sender about a request: the confirmation link, a decision, the removal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from app.core import stored_renders
from app.core.urls import public_url
from app.delisting.tokens import hash_nonce, new_nonce, sign_confirmation
from app.extensions import db
from app.mail import outbox
from app.models import DelistRequest, Listing, OutboxMessage


def _mail_sender(
    delist_request: DelistRequest,
    kind: str,
    subject: Any,
    context: dict[str, Any],
    now: datetime,
) -> None:
    """Queue mail about `delist_request` to its sender, in the sender's language."""
    context = {
        "delist_request": delist_request,
        "status_url": public_url("portal.status", public_id=delist_request.public_id),
        **context,
    }
    letter = outbox.render_letter(kind, subject, context, delist_request.locale)
    outbox.enqueue(
        kind, recipient=delist_request.email, letter=letter, now=now, delist_request=delist_request
    )


def link_fields(now: datetime) -> tuple[str, dict[str, Any]]:
    """A fresh nonce, and the request's columns for a link valid from `now` for its lifetime."""
    nonce = new_nonce()
    lifetime = timedelta(seconds=current_app.config["CONFIRM_TOKEN_MAX_AGE_SECONDS"])
    return nonce, {"nonce_hash": hash_nonce(nonce), "expires_at": now + lifetime}


def new_link(delist_request: DelistRequest, now: datetime) -> str:
    """Give the request a fresh link (the older one stops working); return its nonce."""
    nonce, fields = link_fields(now)
    delist_request.nonce_hash = fields["nonce_hash"]
    delist_request.expires_at = fields["expires_at"]
    return nonce


def confirmation_letter(ip: str, public_id: str, token: str, locale: str) -> outbox.Letter:
    """The mail carrying the signed link `token` for the request `public_id`, filled into
    its stored render (app.core.stored_renders): a submission's hot path."""
    values = {
        "ip": ip,
        "confirm_url": public_url("portal.confirm", token=token),
        "status_url": public_url("portal.status", public_id=public_id),
    }
    config = current_app.config
    context = {
        "valid_seconds": config["CONFIRM_TOKEN_MAX_AGE_SECONDS"],
        "delay_seconds": config["DELIST_DELAY_SECONDS"],
    }
    with force_locale(locale):
        return outbox.Letter(
            str(_l("Confirm the removal of %(ip)s from our blocked-senders list", ip=ip)),
            stored_renders.render("email/confirmation.txt", values, **context),
            stored_renders.render("email/confirmation.html", values, **context),
        )


def confirmation_row(
    delist_request: Mapping[str, Any], request_id: int, nonce: str, now: datetime
) -> dict[str, Any]:
    """The outbox row of the confirmation mail for a request with these columns and id,
    its link signed for `nonce` (see `link_fields`)."""
    token = sign_confirmation(request_id, nonce)
    ip, public_id, locale = (
        delist_request["ip"],
        delist_request["public_id"],
        delist_request["locale"],
    )
    return outbox.queued_row(
        "confirmation",
        recipient=delist_request["email"],
        letter=confirmation_letter(ip, public_id, token, locale),
        now=now,
        request_id=request_id,
        secret=token,
    )


def mail_link(delist_request: DelistRequest, nonce: str, now: datetime) -> None:
    """Queue the confirmation mail carrying the signed link for `nonce`."""
    columns = {
        "ip": delist_request.ip,
        "public_id": delist_request.public_id,
        "locale": delist_request.locale,
        "email": delist_request.email,
    }
    db.session.add(OutboxMessage(**confirmation_row(columns, delist_request.id, nonce, now)))


def mail_new_link(delist_request: DelistRequest, listing: Listing, now: datetime) -> None:
    """A new link for a request that had one, to remove `listing`: older links stop working
    and are not sent."""
    outbox.cancel_unsent(delist_request, "confirmation")
    mail_link(delist_request, new_link(delist_request, now), now)


def mail_decision(delist_request: DelistRequest, approved: bool, why: str, now: datetime) -> None:
    _mail_sender(
        delist_request,
        "decision",
        _l("Your request to remove %(ip)s from our blocked-senders list", ip=delist_request.ip),
        {"approved": approved, "why": why},
        now,
    )


def mail_removed(delist_request: DelistRequest, now: datetime) -> None:
    _mail_sender(
        delist_request,
        "removed",
        _l("%(ip)s is no longer on our blocked-senders list", ip=delist_request.ip),
        {"help_url": public_url("portal.help")},
        now,
    )
