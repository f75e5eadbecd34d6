"""JSON API for machines: is this IP listed? (and its OpenAPI description).

An edge: may import the domain packages, app.core and app.web, never another edge.
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import routes  # noqa: E402,F401  (routes attach to bp)
