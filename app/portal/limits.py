"""The portal's rate limits: which settings they read and what each one counts.

Per client address (the limiter's default key), per recipient (one mailbox, however
it is written), per IP to delist (typed, or found in a pasted bounce), and every
confirmation mail together. The keys read this request's delist form, the one the
view checks. The Find button only reads a pasted bounce, so it counts against
neither the recipient's nor the IP's limit; nor does a form with nothing in the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import g, request
from werkzeug.wrappers import Response

from app.extensions import limiter
from app.portal.forms import sent_delist_form
from app.web.rate_limits import setting

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


def finding_in_bounce() -> bool:
    """The Find button only reads the pasted bounce: no mail, no request."""
    return "find" in request.form


def no_recipient() -> bool:
    return finding_in_bounce() or not sent_delist_form().submitted_mailbox()


def no_target_ip() -> bool:
    return finding_in_bounce() or not sent_delist_form().submitted_ip()


def queued_a_mail(response: Response) -> bool:
    return bool(g.get("confirmation_queued", False))


def submit_limits(view: Callable[P, R]) -> Callable[P, R]:
    """Per client address, per recipient, per target IP, and all confirmation mails."""
    limits = (
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
        limiter.limit(
            setting("RATE_LIMIT_CONFIRMATION_MAILS"),
            key_func=confirmation_mails_key,
            methods=["POST"],
            deduct_when=queued_a_mail,
        ),
    )
    for limit in limits:
        view = limit(view)
    return view
