"""Admin routes: sign in (password, then TOTP when enabled), sign out, dashboard."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from flask import (
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import Field

from app.abuse import challenge
from app.accounts import operators, signin
from app.accounts.signin import Outcome
from app.admin import bp
from app.admin.access import end_session, safe_next, start_session
from app.admin.dashboard import overview
from app.admin.dashboard_charts import dashboard_charts
from app.admin.forms import LoginForm, LogoutForm, TotpForm
from app.core import security_log
from app.core.clock import utcnow
from app.extensions import db, limiter
from app.models import Operator
from app.web.forms import Form, add_error

WRONG_PASSWORD = _l("The email address or the password is not right.")
WRONG_CODE = _l("This code is not right, or it was used already.")
PROOF_MESSAGE = _l(
    "This account has had many failed sign-ins lately, so your browser runs a short "
    "automatic check first. Enter your password again and send the form."
)

TOTP_STEP_SECONDS = 300  # the password step is good for this long
CODES_PER_STEP = 5  # wrong codes before the password step must be done again

Page = str | tuple[str, int] | Response
View = Callable[[], Page]


def _failed(response: Response) -> bool:
    """Only wrong passwords and codes count towards the per-address limit."""
    return bool(g.get("sign_in_failed"))


def _per_address() -> str:
    return current_app.config["ADMIN_LOGIN_LIMIT_PER_ADDRESS"]


def _login_limits(view: View) -> View:
    """Per client address; the accounts' own protection is in app.accounts.signin."""
    return limiter.limit(_per_address, methods=["POST"], deduct_when=_failed)(view)


def _proof_accepted(form: LoginForm) -> bool:
    """Spend the proof of work sent with the form (asked only when an account is attacked)."""
    try:
        challenge.spend(form.altcha.data, utcnow(), purpose=challenge.SIGN_IN)
    except challenge.ChallengeError as error:
        security_log.event("challenge.refused", outcome=error.reason, client=request.remote_addr)
        return False
    return True


def _login_page(form: LoginForm, status: int = 200, *, proof: bool = False) -> tuple[str, int]:
    offered = challenge.for_sign_in(utcnow()) if proof else None
    return render_template("admin/login.html", form=form, challenge=offered), status


def _wrong(field: Field, message: LazyString, template: str, form: Form) -> tuple[str, int]:
    g.sign_in_failed = True
    db.session.commit()  # the failure's audit event
    add_error(field, message)
    return render_template(template, form=form), 401


def _start_second_step(operator: Operator, next_page: str | None) -> Response:
    session.clear()
    session["totp_operator"] = operator.id
    session["totp_started"] = time.time()
    db.session.commit()  # a rehashed password
    return redirect(url_for(".login_totp", next=next_page), code=303)


def _complete_login(operator: Operator, next_page: str | None) -> Response:
    start_session(operator)
    signin.record_success(operator, client_address=request.remote_addr, now=utcnow())
    db.session.commit()
    return redirect(safe_next(next_page), code=303)


def _password_step(form: LoginForm) -> signin.PasswordStep:
    email, password = form.credentials()
    proof = functools.partial(_proof_accepted, form)  # spent only when the account needs it
    client = request.remote_addr
    return signin.password_step(email, password, client_address=client, proof=proof, now=utcnow())


@bp.route("/login", methods=["GET", "POST"])
@_login_limits
def login() -> Page:
    form = LoginForm(next=request.args.get("next", ""))
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(safe_next(form.next.data))
    if not form.validate_on_submit():
        return _login_page(form, 400 if request.method == "POST" else 200)
    step = _password_step(form)
    if step.outcome is Outcome.PROOF_NEEDED:
        add_error(form.password, PROOF_MESSAGE)
        return _login_page(form, 401, proof=True)
    if step.operator is None:
        return _wrong(form.password, WRONG_PASSWORD, "admin/login.html", form)
    if step.outcome is Outcome.CODE_NEEDED:
        return _start_second_step(step.operator, form.next.data)
    return _complete_login(step.operator, form.next.data)


def _pending_second_step() -> Operator | None:
    """The operator whose password step this session passed lately, if any (reads only)."""
    operator_id = session.get("totp_operator")
    operator = db.session.get(Operator, operator_id) if operator_id else None
    fresh = time.time() - session.get("totp_started", 0) < TOTP_STEP_SECONDS
    tries_left = session.get("totp_failures", 0) < CODES_PER_STEP
    return operator if operator is not None and operator.active and fresh and tries_left else None


@bp.route("/login/totp", methods=["GET", "POST"])
@_login_limits
def login_totp() -> Page:
    operator = _pending_second_step()
    if operator is None:  # nothing to finish; a signed-in session is left as it is
        return _no_second_step()
    form = TotpForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("admin/totp.html", form=form), status
    code = form.code.data or ""
    if signin.code_step(operator, code, client_address=request.remote_addr, now=utcnow()):
        return _complete_login(operator, form.next.data)
    session["totp_failures"] = session.get("totp_failures", 0) + 1
    return _wrong(form.code, WRONG_CODE, "admin/totp.html", form)


def _no_second_step() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for(".dashboard"))
    flash(_l("Please sign in again."), "info")
    return redirect(url_for(".login"))


@bp.get("/login/challenge")
@limiter.limit(_per_address)
def login_challenge() -> Response:
    """A fresh proof-of-work challenge for a sign-in form left open for long."""
    response = jsonify(challenge.for_sign_in(utcnow()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/logout")
def logout() -> Response:
    LogoutForm().validate_on_submit()  # CSRF is checked globally; nothing else to read
    operators.sign_out_everywhere(current_user, client_address=request.remote_addr, now=utcnow())
    db.session.commit()
    end_session()
    flash(_l("You have signed out."), "info")
    return redirect(url_for(".login"), code=303)


@bp.get("/")
def dashboard() -> str:
    now = utcnow()
    return render_template(
        "admin/dashboard.html", overview=overview(now), charts=dashboard_charts(now)
    )
