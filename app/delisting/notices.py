"""Mail to the sender about a request: the confirmation link, a decision, the removal."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.urls import public_url
from app.delisting.tokens import hash_nonce, new_nonce, sign_confirmation
from app.mail import outbox
from app.models import DelistRequest, Listing


def _mail_sender(
    delist_request: DelistRequest,
    kind: str,
    subject: Any,
    context: dict[str, Any],
    now: datetime,
    secret: str | None = None,
) -> None:
    """Queue mail about `delist_request` to its sender, in the sender's language."""
    outbox.enqueue(
        kind,
        recipient=delist_request.email,
        subject=subject,
        template=kind,
        context={
            "delist_request": delist_request,
            "status_url": public_url("portal.status", public_id=delist_request.public_id),
            **context,
        },
        now=now,
        delist_request=delist_request,
        secret=secret,
        locale=delist_request.locale,
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


def mail_link(delist_request: DelistRequest, listing: Listing, nonce: str, now: datetime) -> None:
    """Queue the confirmation mail carrying the signed link for `nonce`."""
    token = sign_confirmation(delist_request.id, nonce)
    _mail_sender(
        delist_request,
        "confirmation",
        _l(
            "Confirm the removal of %(ip)s from our blocked-senders list",
            ip=delist_request.ip,
        ),
        {
            "listing": listing,
            "confirm_url": public_url("portal.confirm", token=token),
            "valid_seconds": current_app.config["CONFIRM_TOKEN_MAX_AGE_SECONDS"],
            "delay_seconds": current_app.config["DELIST_DELAY_SECONDS"],
        },
        now,
        secret=token,
    )


def mail_new_link(delist_request: DelistRequest, listing: Listing, now: datetime) -> None:
    """A new link for a request that had one: older links stop working and are not sent."""
    outbox.cancel_unsent(delist_request, "confirmation")
    mail_link(delist_request, listing, new_link(delist_request, now), now)


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
