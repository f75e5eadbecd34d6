"""Admin pages for delist requests: filter, detail with timeline and mail, approve or deny."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.actions import audited_action
from app.admin.forms import ActionForm
from app.core.actor import Actor
from app.core.clock import utcnow
from app.delisting import review
from app.delisting.request_search import MAX_QUERY_LENGTH, find_requests
from app.delisting.sender_view import MAIL_STATES, request_mail, request_timeline, sender_status
from app.extensions import db
from app.models import REQUEST_STATUSES, DelistRequest


@bp.get("/requests")
def requests() -> str:
    status = request.args.get("status", "")
    q = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    page = find_requests(status, q, request.args.get("after", type=int))
    return render_template(
        "admin/requests.html", page=page, status=status, q=q, statuses=REQUEST_STATUSES
    )


@bp.get("/requests/<int:request_id>")
def request_detail(request_id: int) -> str:
    item = db.get_or_404(DelistRequest, request_id)
    now = utcnow()
    return render_template(
        "admin/request.html",
        item=item,
        timeline=request_timeline(item, now),
        mail=request_mail(item),
        mail_states=MAIL_STATES,
        form=ActionForm(),
        status=sender_status(item, now),
    )


def _decide(request_id: int, decide: Callable[..., None], done_message: str) -> Response:
    item = db.get_or_404(DelistRequest, request_id)

    def run(why: str, actor: Actor, now: datetime) -> str:
        decide(item, actor=actor, why=why, now=now)
        return done_message

    return audited_action(url_for(".request_detail", request_id=item.id), run)


@bp.post("/requests/<int:request_id>/approve")
def request_approve(request_id: int) -> Response:
    return _decide(request_id, review.approve, _l("Approved; the sender is told by email."))


@bp.post("/requests/<int:request_id>/deny")
def request_deny(request_id: int) -> Response:
    return _decide(request_id, review.deny, _l("Refused; the sender is told why by email."))


@bp.post("/requests/<int:request_id>/new-link")
def request_new_link(request_id: int) -> Response:
    return _decide(
        request_id,
        lambda item, *, actor, why, now: review.send_new_link(item, actor=actor, now=now),
        _l("A new confirmation link is on its way."),
    )
