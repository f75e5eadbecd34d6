"""A request's status page (`/requests/<id>`) and its "Send the link again" button."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.core.actor import Actor
from app.core.clock import utcnow
from app.delisting import sender_view, submission
from app.delisting.sender_view import MAIL_STATES, mail_reports, request_timeline
from app.extensions import db, limiter
from app.models import DelistRequest
from app.portal import bp, outcomes
from app.portal.forms import ResendForm
from app.portal.limits import count_mail, mail_limits
from app.web.rate_limits import setting

# Token and status pages must not be kept by browsers or shared caches.
PRIVATE_PAGES = {"portal.confirm", "portal.confirm_post", "portal.status"}


@bp.after_request
def no_store_private_pages(response: Response) -> Response:
    if request.endpoint in PRIVATE_PAGES:
        response.headers["Cache-Control"] = "no-store"
    return response


def _request_or_404(public_id: str) -> DelistRequest:
    delist_request = sender_view.find_by_public_id(public_id)
    if delist_request is None:
        abort(404)
    return delist_request


def to_status_page(delist_request: DelistRequest) -> Response:
    """After a POST: on to the request's status page (303, so a reload sends nothing)."""
    return redirect(url_for("portal.status", public_id=delist_request.public_id), code=303)


@bp.get("/requests/<public_id>")
def status(public_id: str) -> str:
    delist_request = _request_or_404(public_id)
    now = utcnow()
    return render_template(
        "portal/status.html",
        delist_request=delist_request,
        status=sender_view.sender_status(delist_request, now),
        reach=sender_view.removal_reach(
            delist_request, now, current_app.config["ENFORCEMENT_STALE_SECONDS"]
        ),
        timeline=request_timeline(delist_request, now),
        mail=mail_reports(delist_request),
        mail_states=MAIL_STATES,
        resend_form=ResendForm(),
    )


@bp.post("/requests/<public_id>/resend")
@limiter.limit(setting("RATE_LIMIT_SUBMIT_PER_ADDRESS"))
@mail_limits
def resend(public_id: str) -> Response:
    delist_request = _request_or_404(public_id)
    if not ResendForm().validate_on_submit():
        flash(outcomes.FORM_EXPIRED)
        return to_status_page(delist_request)
    result = submission.resend_link(
        delist_request, actor=Actor.sender(request.remote_addr), now=utcnow()
    )
    db.session.commit()
    count_mail(result)
    flash(outcomes.resend_message(result))
    return to_status_page(delist_request)
