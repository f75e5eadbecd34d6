"""The emailed link (`/confirm/<token>`): opening it shows the Delist IP page; only the
button's POST confirms, so mail scanners that open every link change nothing."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from app.core import security_log
from app.core.actor import Actor
from app.core.clock import utcnow
from app.delisting import confirmation
from app.delisting.standing import self_removals_left
from app.delisting.tokens import TokenError
from app.extensions import csrf, db, limiter
from app.models import DelistRequest, Listing
from app.portal import bp
from app.portal.forms import ConfirmForm
from app.portal.status import to_status_page
from app.web import metrics
from app.web.rate_limits import setting

TOKEN_ERROR_STATUS = {"invalid": 404, "expired": 410, "used": 410}


def _token_error(error: TokenError) -> tuple[str, int]:
    security_log.event("token.refused", outcome=error.reason, client=request.remote_addr)
    page = render_template(
        "portal/token_error.html", reason=error.reason, delist_request=error.delist_request
    )
    return page, TOKEN_ERROR_STATUS[error.reason]


def _confirm_page(form: ConfirmForm, delist_request: DelistRequest, listing: Listing | None) -> str:
    return render_template(
        "portal/confirm.html",
        form=form,
        delist_request=delist_request,
        listing=listing,
        removals_left=self_removals_left(delist_request.address, utcnow()),
    )


def _show(token: str, form: ConfirmForm, status: int = 200) -> tuple[str, int]:
    """The Delist IP page for this link, or why the link no longer works."""
    try:
        delist_request, listing = confirmation.open_confirmation(token, utcnow())
    except TokenError as error:
        return _token_error(error)
    return _confirm_page(form, delist_request, listing), status


@bp.get("/confirm/<token>")
def confirm(token: str) -> tuple[str, int]:
    return _show(token, ConfirmForm())


@bp.post("/confirm/<token>")
@csrf.exempt
@limiter.limit(setting("RATE_LIMIT_CONFIRM_PER_ADDRESS"))
def confirm_post(token: str) -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        # Usually an expired session: show the page again so one more press works.
        return _show(token, form, 400)
    try:
        delist_request = confirmation.confirm(
            token, actor=Actor.sender(request.remote_addr), now=utcnow()
        )
        db.session.commit()
        metrics.count_confirmation(delist_request.status)
    except TokenError as error:
        db.session.rollback()
        if error.reason != "used" or error.delist_request is None:
            return _token_error(error)
        delist_request = error.delist_request  # a second press shows the same result
    return to_status_page(delist_request)
