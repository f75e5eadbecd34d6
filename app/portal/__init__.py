"""Sender pages: the form, the confirmation link, the request status page, help and lookup.

An edge: may import the domain packages, app.core and app.web, never another edge.
"""

from flask import Blueprint

bp = Blueprint("portal", __name__)

from app.portal import routes  # noqa: E402,F401  (routes attach to bp)
