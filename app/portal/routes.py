"""Sender routes: thin views over app.delisting."""

from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from app.abuse import challenge, reports
from app.core import security_log
from app.core.actor import Actor
from app.core.clock import utcnow
from app.delisting import bounces, confirmation, sender_view, submission
from app.delisting.sender_view import MAIL_STATES, request_mail, request_timeline
from app.delisting.standing import self_removals_left
from app.delisting.submission import Outcome
from app.delisting.tokens import TokenError
from app.extensions import csrf, db, limiter
from app.listing.addresses import AddressError, parse_address
from app.listing.lookup import look_up
from app.portal import blank_form, bp
from app.portal.forms import (
    MAX_IP_LENGTH,
    ConfirmForm,
    DelistForm,
    LookupForm,
    ReportForm,
    ResendForm,
)
from app.web import languages
from app.web.formatting import when


def _limit(name: str):
    return lambda: current_app.config[name]


def _form_email() -> str:
    return "submit-email:" + request.form.get("email", "").strip().lower()[:254]


def _form_ip() -> str:
    return "submit-ip:" + _normalised(request.form.get("ip", "").strip()[:100])


def _finding_in_bounce() -> bool:
    """The Find button only reads the pasted bounce: no mail, no request."""
    return "find" in request.form


def _queued_a_mail(response) -> bool:
    return g.get("confirmation_queued", False)


def _submit_limits(view):
    """Per client address, per recipient, per target IP, and all confirmation mails."""
    limits = (
        limiter.limit(_limit("RATE_LIMIT_SUBMIT_PER_ADDRESS"), methods=["POST"]),
        limiter.limit(
            _limit("RATE_LIMIT_SUBMIT_PER_EMAIL"),
            key_func=_form_email,
            methods=["POST"],
            exempt_when=_finding_in_bounce,
        ),
        limiter.limit(
            _limit("RATE_LIMIT_SUBMIT_PER_IP"),
            key_func=_form_ip,
            methods=["POST"],
            exempt_when=_finding_in_bounce,
        ),
        limiter.limit(
            _limit("RATE_LIMIT_CONFIRMATION_MAILS"),
            key_func=lambda: "confirmation-mails",
            methods=["POST"],
            deduct_when=_queued_a_mail,
        ),
    )
    for limit in limits:
        view = limit(view)
    return view


TOKEN_ERROR_STATUS = {"invalid": 404, "expired": 410, "used": 410}
PRIVATE_PAGES = {"portal.confirm", "portal.confirm_post", "portal.status"}


@bp.after_request
def no_store_private_pages(response):
    # Token and status pages must not be kept by browsers or shared caches.
    if request.endpoint in PRIVATE_PAGES:
        response.headers["Cache-Control"] = "no-store"
    return response


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


def _form_page(form, template="portal/index.html", **context):
    """A public form, with a fresh proof-of-work challenge when those are on."""
    return render_template(template, form=form, challenge=challenge.offer(utcnow()), **context)


def _blank_form_page() -> str:
    """The form as most visitors first see it (see app.portal.blank_form)."""

    def render(token: str, challenge_value) -> str:
        form = DelistForm()
        form.csrf_token.current_token = token
        return render_template("portal/index.html", form=form, challenge=challenge_value)

    return blank_form.page(render, challenge.offer(utcnow()))


def _found_in_bounce(form, bounce: bounces.BounceFacts, now):
    """The Find button: put the bounce's address in the IP field and say what we know of it."""
    typed = _normalised((form.ip.data or "").strip())
    listed = None
    if bounce.address:
        form.ip.data = bounce.address
        listed = look_up(parse_address(bounce.address), now)
    replaced = typed if typed and bounce.address and typed != bounce.address else None
    return _form_page(form, bounce=bounce, found=True, listed=listed, replaced_ip=replaced)


def _normalised(text: str) -> str:
    try:
        return str(parse_address(text))
    except AddressError:
        return text


def _challenge_refused(form, now) -> bool:
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


# The two sender forms check their CSRF token themselves (FlaskForm), so that an
# expired token re-shows the form with what was typed instead of a bare error page.
@bp.route("/", methods=["GET", "POST"])
@csrf.exempt
@_submit_limits
def index():
    if request.method == "GET":
        prefill = request.args.get("ip", "")[:MAX_IP_LENGTH]  # from the lookup page
        if not prefill:
            return _blank_form_page()
        form = DelistForm()
        form.ip.data = prefill
        return _form_page(form)
    form = DelistForm()
    now = utcnow()
    bounce = bounces.read_bounce(form.bounce.data) if form.bounce.data else None
    if form.find.data:
        return _found_in_bounce(form, bounce or bounces.BounceFacts(), now)
    if bounce and bounce.address and not (form.ip.data or "").strip():
        form.ip.raw_data = [bounce.address]  # as if typed, for the checks that follow
        form.ip.data = bounce.address
    if not form.validate_on_submit():
        return _form_page(form, bounce=bounce), 400
    if (
        bounce
        and bounce.address
        and bounce.address != form.ip.data
        and request.form.get("ip_checked") != form.ip.data
    ):
        # The sender typed another address than the bounce names: ask once.
        return _form_page(form, bounce=bounce, typed_ip=form.ip.data)
    if _challenge_refused(form, now):
        return _form_page(form, bounce=bounce), 400
    result = submission.submit(
        form.email.data,
        form.address,
        actor=Actor.sender(request.remote_addr),
        locale=str(get_locale()),
        now=now,
    )
    if result.outcome is Outcome.NOT_LISTED:
        response = _form_page(form, not_listed=form.ip.data)
    else:
        response = render_template("portal/submitted.html", result=result, email=form.email.data)
    # Rendered before the commit, while the rows are loaded: after it they would be read
    # again. A failed commit raises, and this page is never sent.
    db.session.commit()
    g.confirmation_queued = result.outcome is Outcome.CHECK_INBOX
    if result.outcome is Outcome.NOT_LISTED:
        return response
    status = 429 if result.outcome in submission.WAIT_OUTCOMES else 200
    headers = {}
    if result.retry_at:
        headers["Retry-After"] = str(max(1, int((result.retry_at - now).total_seconds())))
    return response, status, headers


@bp.get("/challenge")
@limiter.limit(_limit("API_RATE_LIMIT"))
def new_challenge():
    """A fresh challenge for a form left open longer than a challenge lives."""
    offered = challenge.offer(utcnow())
    if offered is None:
        abort(404)
    response = jsonify(offered)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/language")
@csrf.exempt  # a display preference; nothing to protect
def set_language():
    """The language switch: remember the choice in a cookie and go back to the page.

    A POST with the page in the body, so a confirmation link never lands in a URL.
    """
    code = request.form.get("lang", "")
    if code not in languages.LANGUAGES:
        abort(400)
    response = redirect(languages.same_site_path(request.form.get("next")), code=303)
    response.set_cookie(
        languages.COOKIE,
        code,
        max_age=languages.COOKIE_MAX_AGE,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.get("/help")
def help():
    return render_template("portal/help.html")


@bp.route("/report", methods=["GET", "POST"])
@csrf.exempt  # checked by the form, like the delist form's
@limiter.limit(_limit("RATE_LIMIT_REPORT_PER_ADDRESS"), methods=["POST"])
def report():
    """Spam from some network: the headers go to the operators' queue."""
    form = ReportForm()
    if request.method == "GET":
        return _form_page(form, "portal/report.html")
    now = utcnow()
    if not form.validate_on_submit() or _challenge_refused(form, now):
        return _form_page(form, "portal/report.html"), 400
    reports.submit(
        form.email.data,
        form.headers.data,
        (form.note.data or "").strip(),
        actor=Actor.public(request.remote_addr),
        locale=str(get_locale()),
        now=now,
    )
    db.session.commit()
    return render_template("portal/report_sent.html")


@bp.get("/lookup")
def lookup():
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
    return render_template(
        "portal/lookup.html",
        form=form,
        result=result,
        error=None,
        # Ranges cannot be removed by self-service: no count to show for them.
        removals_left=(
            self_removals_left(address, now)
            if result.listed and not result.listing.is_range
            else None
        ),
    )


def _token_error(error: TokenError):
    security_log.event("token.refused", outcome=error.reason, client=request.remote_addr)
    page = render_template(
        "portal/token_error.html", reason=error.reason, delist_request=error.delist_request
    )
    return page, TOKEN_ERROR_STATUS[error.reason]


def _confirm_page(form, delist_request, listing):
    return render_template(
        "portal/confirm.html",
        form=form,
        delist_request=delist_request,
        listing=listing,
        removals_left=self_removals_left(delist_request.address, utcnow()),
    )


@bp.get("/confirm/<token>")
def confirm(token: str):
    try:
        delist_request, listing = confirmation.open_confirmation(token, utcnow())
    except TokenError as error:
        return _token_error(error)
    return _confirm_page(ConfirmForm(), delist_request, listing)


@bp.post("/confirm/<token>")
@csrf.exempt
@limiter.limit(_limit("RATE_LIMIT_CONFIRM_PER_ADDRESS"))
def confirm_post(token: str):
    form = ConfirmForm()
    if not form.validate_on_submit():
        # Usually an expired session: show the page again so one more press works.
        try:
            delist_request, listing = confirmation.open_confirmation(token, utcnow())
        except TokenError as error:
            return _token_error(error)
        return _confirm_page(form, delist_request, listing), 400
    try:
        delist_request = confirmation.confirm(
            token, actor=Actor.sender(request.remote_addr), now=utcnow()
        )
        db.session.commit()
    except TokenError as error:
        db.session.rollback()
        if error.reason != "used":
            return _token_error(error)
        delist_request = error.delist_request  # a second press shows the same result
    return redirect(url_for(".status", public_id=delist_request.public_id), code=303)


@bp.get("/requests/<public_id>")
def status(public_id: str):
    delist_request = sender_view.find_by_public_id(public_id)
    if delist_request is None:
        abort(404)
    now = utcnow()
    return render_template(
        "portal/status.html",
        delist_request=delist_request,
        status=sender_view.sender_status(delist_request, now),
        timeline=request_timeline(delist_request, now),
        mail=request_mail(delist_request),
        mail_states=MAIL_STATES,
        resend_form=ResendForm(),
    )


@bp.post("/requests/<public_id>/resend")
@limiter.limit(_limit("RATE_LIMIT_SUBMIT_PER_ADDRESS"))
def resend(public_id: str):
    delist_request = sender_view.find_by_public_id(public_id)
    if delist_request is None:
        abort(404)
    back = redirect(url_for(".status", public_id=delist_request.public_id), code=303)
    if not ResendForm().validate_on_submit():
        flash(_l("This form has expired. Please press the button again."))
        return back
    now = utcnow()
    result = submission.resend_link(
        delist_request, actor=Actor.sender(request.remote_addr), now=now
    )
    db.session.commit()
    if result is None:
        flash(_l("This request does not need a new link."))
    elif result.outcome is Outcome.CHECK_INBOX:
        flash(_l("A new link is on its way. The link in earlier emails no longer works."))
    elif result.outcome is Outcome.MAIL_RECENTLY_SENT:
        flash(
            _l(
                "We sent a link only minutes ago. You can ask again after %(time)s.",
                time=when(result.retry_at),
            )
        )
    else:
        flash(_l("We have sent several emails to this address today; please try tomorrow."))
    return back
