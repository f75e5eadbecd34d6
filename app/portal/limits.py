"""The portal's rate limits: which settings they read and what each one counts.

Per client (the limiter's default key: an IPv4 address or an IPv6 /64), per recipient
(one mailbox, however it is written), per IP to delist (typed, or found in a pasted
bounce), and the confirmation mails: all of them, and each client's share, which the
resend button spends too. The keys read this request's delist form, the one the view
checks. The Find button only reads a pasted bounce, so it counts against neither the
recipient's nor the IP's limit; nor does a form with nothing in the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import g, request
from flask_limiter import RouteLimit
from werkzeug.wrappers import Response

from app.delisting.submission import Outcome, SubmitResult
from app.extensions import limiter
from app.portal.forms import sent_delist_form
from app.web.rate_limits import setting, stacked

P = ParamSpec("P")
R = TypeVar("R")


def recipient_key() -> str:
    """One mailbox, however it is written (app.mail.mailbox)."""
    return "submit-email:" + sent_delist_form().submitted_mailbox()


def target_ip_key() -> str:
    """The address submitted, typed or found in a pasted bounce."""
    return "submit-ip:" + sent_delist_form().submitted_ip()


def confirmation_mails_key() -> str:
    return "confirmation-mails"


def nothing_submitted() -> bool:
    """A page view (the limits count POSTs; asked first, it spares a GET the form), or the
    Find button, which only reads the pasted bounce: no mail, no request."""
    return request.method != "POST" or "find" in request.form


def no_recipient() -> bool:
    return nothing_submitted() or not sent_delist_form().submitted_mailbox()


def no_target_ip() -> bool:
    return nothing_submitted() or not sent_delist_form().submitted_ip()


def count_mail(result: SubmitResult | None) -> None:
    """Tell the mail limits whether this request queued a confirmation mail."""
    g.confirmation_queued = result is not None and result.outcome is Outcome.CHECK_INBOX


def queued_a_mail(response: Response) -> bool:
    return bool(g.get("confirmation_queued", False))


def _mail_limits() -> tuple[RouteLimit, ...]:
    """The two mail limits, declared afresh for each view they are stacked on."""
    return (
        limiter.shared_limit(
            setting("RATE_LIMIT_CONFIRMATION_MAILS_PER_CLIENT"),
            scope="confirmation-mails-per-client",
            methods=["POST"],
            deduct_when=queued_a_mail,
        ),
        limiter.shared_limit(
            setting("RATE_LIMIT_CONFIRMATION_MAILS"),
            scope="confirmation-mails",
            key_func=confirmation_mails_key,
            methods=["POST"],
            deduct_when=queued_a_mail,
        ),
    )


def mail_limits(view: Callable[P, R]) -> Callable[P, R]:
    """All confirmation mails, and each client's share of them: the form and the resend
    button together, counted only when a mail is queued (see count_mail)."""
    return stacked(view, _mail_limits())


def submit_limits(view: Callable[P, R]) -> Callable[P, R]:
    """Per client, per recipient, per target IP, and the confirmation mails."""
    limits = (
        *_mail_limits(),
        limiter.limit(setting("RATE_LIMIT_SUBMIT_PER_ADDRESS"), methods=["POST"]),
        limiter.limit(
            setting("RATE_LIMIT_SUBMIT_PER_EMAIL"),
            key_func=recipient_key,
            methods=["POST"],
            exempt_when=no_recipient,
        ),
        limiter.limit(
            setting("RATE_LIMIT_SUBMIT_PER_IP"),
            key_func=target_ip_key,
            methods=["POST"],
            exempt_when=no_target_ip,
        ),
    )
    return stacked(view, limits)
