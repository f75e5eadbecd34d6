"""Operator pages under /admin: login, dashboard, and (to come) the list's daily tools."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from app.admin import (  # noqa: E402,F401  (they attach to bp)
    access,
    audit_log,
    listings,
    mail,
    reports,
    requests,
    routes,
    transfer,
)
