"""Health for load balancers and monitoring: `/healthz` (the process answers), `/readyz`
(the database is reachable and at the code's latest migration, Redis too when the rate
limits live there) and `/metrics` for Prometheus (the figures are app.web.metrics').

An edge: may import app.core, app.extensions and app.web; nothing outside this package
imports it.
"""

from flask import Blueprint

bp = Blueprint("health", __name__)

from app.health import metrics, routes  # noqa: E402,F401  (the views attach to bp)
