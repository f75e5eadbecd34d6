"""Who may see and do what under /admin; sessions that end on time.

Every admin URL but the login steps needs a signed-in operator (pages redirect
to the login, other methods get 401), and anything but reading needs the admin
role (403). Checked here once for the whole blueprint, so a new page cannot
forget it; a test walks the URL map to prove it.
"""

from __future__ import annotations

import time

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from app.admin import bp
from app.extensions import db, login_manager
from app.models import Operator
from app.web.redirects import safe_path

PUBLIC_ENDPOINTS = {"admin.login", "admin.login_totp", "admin.login_challenge"}
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
ANY_ROLE_WRITES = {"admin.logout"}


@login_manager.user_loader
def load_operator(session_id: str) -> Operator | None:
    operator_id, _, epoch = session_id.partition(".")
    if not operator_id.isdigit() or not epoch.isdigit():
        return None
    operator = db.session.get(Operator, int(operator_id))
    if operator is None or not operator.active or operator.session_epoch != int(epoch):
        return None
    return operator


def start_session(operator: Operator) -> None:
    """A fresh session for a signed-in operator (never one carried over from before)."""
    from flask_login import login_user

    session.clear()
    login_user(operator)
    now = time.time()
    session["login_at"] = now
    session["seen_at"] = now


def end_session() -> None:
    logout_user()
    session.clear()


def _expired(now: float) -> bool:
    config = current_app.config
    too_old = now - session.get("login_at", 0) > config["ADMIN_SESSION_MAX_SECONDS"]
    too_idle = now - session.get("seen_at", 0) > config["ADMIN_SESSION_IDLE_SECONDS"]
    return too_old or too_idle


def _refuse_anonymous() -> Response:
    if request.method in READ_METHODS:
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    abort(401)


@bp.before_request
def guard() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return _refuse_anonymous()
    now = time.time()
    if _expired(now):
        end_session()
        flash(_l("Your session has ended. Please sign in again."), "info")
        return _refuse_anonymous()
    session["seen_at"] = now
    writes = request.method not in READ_METHODS and request.endpoint not in ANY_ROLE_WRITES
    if writes and not current_user.is_admin:
        abort(403)
    return None


def safe_next(target: str | None) -> str:
    """Where to go after login: only a page of our own admin site."""
    return safe_path(target, url_for("admin.dashboard"), under="/admin/")
