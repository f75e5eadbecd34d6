"""Admin actions that change something: a reason is required, the outcome is flashed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import flash, redirect, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from app.admin.forms import ActionForm
from app.core.actor import Actor
from app.core.clock import utcnow
from app.core.errors import DomainError
from app.extensions import db

# An action gets the operator's reason, the operator and the time; it returns the message
# to show, or (message, URL to go to) when the result lives on another page.
Action = Callable[[str, Actor, datetime], "str | tuple[str, str]"]


def operator_actor() -> Actor:
    """The signed-in operator, as services record who acted and from where."""
    return Actor(current_user.actor, request.remote_addr)


def audited_action(back_url: str, action: Action) -> Response:
    """Run `action` with the reason from the form; commit, flash, and go back (303)."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_l("Say why: the reason goes into the audit log."))
        return redirect(back_url, code=303)
    try:
        outcome = action(form.reason(), operator_actor(), utcnow())
    except DomainError as exc:  # the record is not in a state for this action
        db.session.rollback()
        flash(str(exc))
        return redirect(back_url, code=303)
    db.session.commit()
    message, target = outcome if isinstance(outcome, tuple) else (outcome, back_url)
    flash(message)
    return redirect(target, code=303)
