"""Health for load balancers and monitoring: `/healthz` (the process answers) and `/readyz`
(the database is reachable and at the code's latest migration, Redis too when the rate
limits live there).

An edge: may import app.core, app.extensions and app.web; nothing outside this package
imports it.
"""

from flask import Blueprint

bp = Blueprint("health", __name__)

from app.health import routes  # noqa: E402,F401  (the views attach to bp)
