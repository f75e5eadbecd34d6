"""Admin page for our outgoing mail: every message, its state and attempts; resend."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.actions import operator_actor
from app.admin.forms import ActionForm
from app.core.clock import utcnow
from app.core.errors import DomainError
from app.core.paging import newest_in_status
from app.extensions import db
from app.mail import outbox
from app.models import OutboxMessage

MAIL_STATUSES = ("queued", "sending", "sent", "failed", "cancelled")


@bp.get("/mail")
def mail() -> str:
    status = request.args.get("status", "")
    after = request.args.get("after", type=int)
    page = newest_in_status(OutboxMessage, status, MAIL_STATUSES, after)
    return render_template(
        "admin/mail.html", page=page, status=status, statuses=MAIL_STATUSES, form=ActionForm()
    )


@bp.post("/mail/<int:message_id>/resend")
def mail_resend(message_id: int) -> Response:
    message = db.get_or_404(OutboxMessage, message_id)
    try:
        outbox.resend(message, actor=operator_actor(), now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc))
    else:
        db.session.commit()
        flash(_l("Queued again; the worker sends it on its next pass."))
    return redirect(url_for(".mail", status=request.args.get("status", "")), code=303)
