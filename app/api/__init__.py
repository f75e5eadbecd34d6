"""JSON API for machines: is this IP listed?"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import routes  # noqa: E402,F401  (routes attach to bp)
