"""Pages with a form anyone may send: the proof-of-work challenge offered and spent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import render_template, request
from flask_babel import lazy_gettext as _l

from app.abuse import challenge
from app.core import security_log
from app.core.clock import utcnow
from app.portal import blank_form
from app.portal.forms import DelistForm, PublicForm

CHALLENGE_ERRORS = {
    "missing": _l(
        "The automatic check did not run. Turn on JavaScript for this page, wait until it says "
        "the check is done, and send the form again."
    ),
    "invalid": _l(
        "The automatic check did not pass. Send the form again: your browser repeats the check "
        "by itself."
    ),
    "expired": _l(
        "The automatic check has expired. Send the form again: your browser repeats the check "
        "by itself."
    ),
}
CHALLENGE_ERRORS["used"] = CHALLENGE_ERRORS["invalid"]


def form_page(form: PublicForm, template: str = "portal/index.html", **context: Any) -> str:
    """A public form, with a fresh proof-of-work challenge when those are on."""
    return render_template(template, form=form, challenge=challenge.offer(utcnow()), **context)


def blank_form_page() -> str:
    """The delist form as most visitors first see it (see app.portal.blank_form)."""

    def render(token: str, challenge_value: blank_form.ChallengeValue) -> str:
        form = DelistForm()
        form.csrf_token.current_token = token
        return render_template("portal/index.html", form=form, challenge=challenge_value)

    return blank_form.page(render, challenge.offer(utcnow()))


def challenge_refused(form: PublicForm, now: datetime) -> bool:
    """Spend the form's proof of work; on failure put the reason next to the button."""
    if not challenge.enabled():
        return False
    try:
        challenge.spend(form.altcha.data, now)
    except challenge.ChallengeError as error:
        security_log.event("challenge.refused", outcome=error.reason, client=request.remote_addr)
        form.altcha.errors = [CHALLENGE_ERRORS[error.reason]]
        return True
    return False
