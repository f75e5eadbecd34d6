"""The abuse report form (`/report`): spam from some network, for the operators' queue."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from app.abuse import reports
from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import csrf, db, limiter
from app.portal import bp
from app.portal.forms import ReportForm
from app.portal.public_form import challenge_refused, form_page
from app.web.rate_limits import setting


@bp.route("/report", methods=["GET", "POST"])
@csrf.exempt  # checked by the form, like the delist form's
@limiter.limit(setting("RATE_LIMIT_REPORT_PER_ADDRESS"), methods=["POST"])
def report() -> ResponseReturnValue:
    """Spam from some network: the headers go to the operators' queue."""
    form = ReportForm()
    if request.method != "POST":  # GET, and HEAD like it
        return form_page(form, "portal/report.html")
    now = utcnow()
    if not form.validate_on_submit() or challenge_refused(form, now):
        return form_page(form, "portal/report.html"), 400
    reports.submit(
        form.email.data or "",  # both required: validated above
        form.headers.data or "",
        (form.note.data or "").strip(),
        actor=Actor.public(request.remote_addr),
        locale=str(get_locale()),
        now=now,
    )
    db.session.commit()
    return render_template("portal/report_sent.html")
