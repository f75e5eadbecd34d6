"""Admin routes: sign in (password, then TOTP when enabled), sign out, dashboard."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts import operators
from app.admin import bp
from app.admin.access import end_session, safe_next, start_session
from app.admin.dashboard import overview
from app.admin.forms import LoginForm, LogoutForm, TotpForm
from app.core.clock import utcnow
from app.extensions import db, limiter
from app.models import Operator
from app.web.forms import add_error

TOTP_STEP_SECONDS = 300  # the password step is good for this long

Page = str | tuple[str, int] | Response
View = Callable[[], Page]


def _failed(response: Response) -> bool:
    """Only failed attempts count towards the lockout."""
    return response.status_code == 401


def _per_address() -> str:
    return current_app.config["ADMIN_LOGIN_LIMIT_PER_ADDRESS"]


def _per_account() -> str:
    return current_app.config["ADMIN_LOGIN_LIMIT_PER_ACCOUNT"]


def _account_key() -> str:
    pending = session.get("totp_operator")
    if request.endpoint == "admin.login_totp" and pending:
        return f"admin-login:operator-{pending}"
    return "admin-login:" + operators.normalise_email(request.form.get("email", ""))


def _login_limits(view: View) -> View:
    view = limiter.limit(_per_address, methods=["POST"], deduct_when=_failed)(view)
    return limiter.limit(
        _per_account, key_func=_account_key, methods=["POST"], deduct_when=_failed
    )(view)


def _complete_login(operator: Operator, next_page: str | None) -> Response:
    start_session(operator)
    operators.record_sign_in(operator, client_address=request.remote_addr, now=utcnow())
    db.session.commit()
    return redirect(safe_next(next_page), code=303)


def _record_failure(email: str, why: str) -> None:
    operators.record_failed_sign_in(email, why, client_address=request.remote_addr, now=utcnow())
    db.session.commit()


@bp.route("/login", methods=["GET", "POST"])
@_login_limits
def login() -> Page:
    form = LoginForm(next=request.args.get("next", ""))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_next(form.next.data))
        return render_template("admin/login.html", form=form)
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form), 400
    email, password = form.email.data or "", form.password.data or ""
    operator = operators.authenticate(email, password)
    if operator is None:
        _record_failure(email, "password")
        add_error(form.password, _l("The email address or the password is not right."))
        return render_template("admin/login.html", form=form), 401
    if operator.totp_secret:
        session.clear()
        session["totp_operator"] = operator.id
        session["totp_started"] = time.time()
        db.session.commit()  # a rehashed password
        return redirect(url_for(".login_totp", next=form.next.data), code=303)
    return _complete_login(operator, form.next.data)


def _pending_second_step() -> Operator | None:
    """The operator whose password step this session passed lately, if any (reads only)."""
    operator_id = session.get("totp_operator")
    operator = db.session.get(Operator, operator_id) if operator_id else None
    fresh = time.time() - session.get("totp_started", 0) < TOTP_STEP_SECONDS
    return operator if operator is not None and operator.active and fresh else None


@bp.route("/login/totp", methods=["GET", "POST"])
@_login_limits
def login_totp() -> Page:
    operator = _pending_second_step()
    if operator is None:  # nothing to finish; a signed-in session is left as it is
        if current_user.is_authenticated:
            return redirect(url_for(".dashboard"))
        flash(_l("Please sign in again."), "info")
        return redirect(url_for(".login"))
    form = TotpForm(next=request.args.get("next", ""))
    if request.method == "GET":
        return render_template("admin/totp.html", form=form)
    if not form.validate_on_submit():
        return render_template("admin/totp.html", form=form), 400
    if not operators.verify_totp(operator, form.code.data or "", utcnow()):
        db.session.rollback()
        _record_failure(operator.email, "totp")
        add_error(form.code, _l("This code is not right, or it was used already."))
        return render_template("admin/totp.html", form=form), 401
    return _complete_login(operator, form.next.data)


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
    return render_template("admin/dashboard.html", overview=overview(utcnow()))
