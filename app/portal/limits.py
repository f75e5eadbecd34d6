"""The portal's rate limits: which settings they read and what each one counts.

Per client address (the limiter's default key), per recipient, per IP to delist,
and every confirmation mail together. The Find button only reads a pasted bounce,
so it counts against neither the recipient's nor the IP's limit.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, g, request
from flask.typing import RouteCallable
from werkzeug.wrappers import Response

from app.extensions import limiter
from app.portal.forms import normalised_ip


def setting(name: str) -> Callable[[], str]:
    """A limit read from the settings when a request comes, so tests may change it."""
    return lambda: current_app.config[name]


def recipient_key() -> str:
    return "submit-email:" + request.form.get("email", "").strip().lower()[:254]


def target_ip_key() -> str:
    return "submit-ip:" + normalised_ip(request.form.get("ip", "").strip()[:100])


def confirmation_mails_key() -> str:
    return "confirmation-mails"


def finding_in_bounce() -> bool:
    """The Find button only reads the pasted bounce: no mail, no request."""
    return "find" in request.form


def queued_a_mail(response: Response) -> bool:
    return bool(g.get("confirmation_queued", False))


def submit_limits(view: RouteCallable) -> RouteCallable:
    """Per client address, per recipient, per target IP, and all confirmation mails."""
    limits = (
        limiter.limit(setting("RATE_LIMIT_SUBMIT_PER_ADDRESS"), methods=["POST"]),
        limiter.limit(
            setting("RATE_LIMIT_SUBMIT_PER_EMAIL"),
            key_func=recipient_key,
            methods=["POST"],
            exempt_when=finding_in_bounce,
        ),
        limiter.limit(
            setting("RATE_LIMIT_SUBMIT_PER_IP"),
            key_func=target_ip_key,
            methods=["POST"],
            exempt_when=finding_in_bounce,
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
