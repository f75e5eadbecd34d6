"""Operator pages under /admin: sign-in, dashboard, listings, the allowlist, requests, mail,
reports, audit, import and export, API keys.

An edge: the views here call the domain packages (app.listing, app.delisting, app.mail,
app.abuse, app.accounts) and app.core; nothing outside this package imports them.
"""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from app.admin import (  # noqa: E402,F401  (they attach to bp)
    abuse_reports,
    access,
    allowlist,
    api_keys,
    audit_log,
    headers,
    listings,
    outgoing_mail,
    requests,
    signin,
    transfer,
)
