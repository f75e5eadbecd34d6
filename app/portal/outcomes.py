"""What each outcome of a submission or a resend tells the sender, in one place.

The submission's page is portal/submitted.html (one section per outcome); this
module gives its status code and headers, and the resend button's messages.
"""

from __future__ import annotations

from datetime import datetime

from flask import render_template, url_for
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from app.core import stored_renders
from app.delisting.submission import WAIT_OUTCOMES, Outcome, SubmitResult
from app.web.formatting import time_text

FORM_EXPIRED = _l("This form has expired. Please press the button again.")


def submitted_page(result: SubmitResult, email: str, ip: str) -> str:
    """The answer to a submission that reached the list. The common one, "check your
    inbox", is filled into its stored render (app.core.stored_renders); the others are
    rendered in full."""
    template = "portal/submitted.html"
    request = result.delist_request
    status_url = url_for("portal.status", public_id=request.public_id) if request else None
    if result.outcome is not Outcome.CHECK_INBOX:
        return render_template(template, result=result, email=email, ip=ip, status_url=status_url)
    # The "check your inbox" section takes nothing from the result but its outcome.
    values = {"email": email, "ip": ip}
    context: dict[str, object] = {"result": result}
    if status_url is None:
        context["status_url"] = None
    else:
        values["status_url"] = status_url
    return stored_renders.render(template, values, shape=status_url is not None, **context)


def status_and_headers(result: SubmitResult, now: datetime) -> tuple[int, dict[str, str]]:
    """429 with Retry-After when the sender must wait, else 200."""
    status = 429 if result.outcome in WAIT_OUTCOMES else 200
    headers = {}
    if result.retry_at:
        headers["Retry-After"] = str(max(1, int((result.retry_at - now).total_seconds())))
    return status, headers


def resend_message(result: SubmitResult | None) -> LazyString:
    """The note the status page shows after "Send the link again"."""
    if result is None:
        return _l("This request does not need a new link.")
    if result.outcome is Outcome.CHECK_INBOX:
        return _l("A new link is on its way. The link in earlier emails no longer works.")
    if result.outcome is Outcome.MAIL_RECENTLY_SENT:
        return _l(
            "We sent a link only minutes ago. You can ask again after %(time)s.",
            time=time_text(result.retry_at),
        )
    return _l("We have sent several emails to this address today; please try tomorrow.")
