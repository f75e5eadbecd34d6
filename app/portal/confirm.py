"""The emailed link (`/confirm/<token>`): opening it shows the Delist IP page; only the
button's POST confirms, so mail scanners that open every link change nothing."""

from __future__ import annotations

from flask import get_template_attribute, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf

from app.core import security_log, stored_renders, transactions
from app.core.actor import Actor
from app.core.clock import utcnow
from app.delisting import confirmation
from app.delisting.tokens import TokenError
from app.extensions import csrf, db, limiter
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


def delist_page(form: ConfirmForm, page: confirmation.DelistPage) -> str:
    """The Delist IP page, filled into its stored render (app.core.stored_renders): the
    listing's facts and the removals note are rendered from their macros, and the rest of
    the page, apart from the address, the link's path and the CSRF token, is the same for
    every link. A page that shows an error is rendered in full."""
    listing = page.listing
    facts = get_template_attribute("_listing.html", "listing_facts")(listing) if listing else ""
    note = get_template_attribute("_listing.html", "removals_left_note")(page.removals_left)
    values = {"ip": page.delist_request.ip, "facts": facts, "note": note, "page_path": request.path}
    template = "portal/confirm.html"
    if form.errors:
        return render_template(template, form=form, listed=listing is not None, **values)
    token = generate_csrf()
    form.csrf_token.current_token = stored_renders.placeholder("csrf_token")
    filled = stored_renders.render(
        template, values, shape=listing is not None, form=form, listed=listing is not None
    )
    return filled.replace(stored_renders.placeholder("csrf_token"), token)


def _show(token: str, form: ConfirmForm, status: int = 200) -> tuple[str, int]:
    """The Delist IP page for this link, or why the link no longer works."""
    try:
        page = confirmation.open_page(token, utcnow())
    except TokenError as error:
        return _token_error(error)
    return delist_page(form, page), status


@bp.get("/confirm/<token>")
def confirm(token: str) -> tuple[str, int]:
    transactions.begin_at_first_write()  # it only reads: no transaction
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
