"""Pages that change nothing: help, the listing policy, the lookup page, the language switch,
a new challenge."""

from __future__ import annotations

from flask import Response, abort, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from app.abuse import challenge
from app.core.clock import utcnow
from app.delisting.bounce_codes import MEANINGS
from app.delisting.standing import self_removals_left
from app.extensions import csrf, limiter
from app.listing.addresses import AddressError, parse_address
from app.listing.lifetimes import LifetimePolicy
from app.listing.lookup import look_up
from app.portal import bp
from app.portal.forms import MAX_IP_LENGTH, LookupForm
from app.web import languages
from app.web.rate_limits import lookup_limit, setting
from app.web.redirects import safe_path


@bp.get("/help")
def help() -> str:
    return render_template("portal/help.html", code_meanings=MEANINGS)


@bp.get("/policy")
def policy() -> str:
    """The listing and delisting criteria (RFC 6471, 2.2), with the lifetimes in force."""
    return render_template("portal/policy.html", lifetimes=LifetimePolicy.current())


@bp.get("/lookup")
@lookup_limit
def lookup() -> ResponseReturnValue:
    form = LookupForm(request.args)
    text = (form.ip.data or "").strip()[:MAX_IP_LENGTH]
    if not text:
        return render_template("portal/lookup.html", form=form, result=None, error=None)
    try:
        address = parse_address(text)
    except AddressError as exc:
        page = render_template("portal/lookup.html", form=form, result=None, error=str(exc))
        return page, 400
    now = utcnow()
    result = look_up(address, now)
    # Ranges cannot be removed by self-service: no count to show for them.
    single = result.listing is not None and not result.listing.is_range
    removals_left = self_removals_left(address, now) if single else None
    return render_template(
        "portal/lookup.html", form=form, result=result, error=None, removals_left=removals_left
    )


@bp.post("/language")
@csrf.exempt  # a display preference; nothing to protect
def set_language() -> BaseResponse:
    """The language switch: remember the choice in a cookie and go back to the page.

    A POST with the page in the body, so a confirmation link never lands in a URL.
    """
    code = request.form.get("lang", "")
    if code not in languages.LANGUAGES:
        abort(400)
    response = redirect(safe_path(request.form.get("next"), "/"), code=303)
    response.set_cookie(
        languages.COOKIE,
        code,
        max_age=languages.COOKIE_MAX_AGE,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.get("/challenge")
@limiter.limit(setting("API_RATE_LIMIT"))
def new_challenge() -> Response:
    """A fresh challenge for a form left open longer than a challenge lives."""
    offered = challenge.offer(utcnow())
    if offered is None:
        abort(404)
    response = jsonify(offered)
    response.headers["Cache-Control"] = "no-store"
    return response
