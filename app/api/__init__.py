"""JSON API for machines: is this IP listed? (public), and the write API for systems with
an API key: report abuse, end listings, follow every change (plus the OpenAPI description).

An edge: may import the domain packages, app.core and app.web, never another edge.
"""

from flask import Blueprint

from app.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Callers authenticate with a bearer key in a header, never with a cookie, so no other
# site can make a browser send an authenticated request: CSRF tokens have nothing to stop.
csrf.exempt(bp)

from app.api import listings, routes  # noqa: E402,F401  (routes attach to bp)
