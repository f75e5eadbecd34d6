"""The probes: small JSON, no session cookie, no rate limit."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from app.extensions import limiter
from app.health import bp
from app.health.checks import problems


@bp.get("/healthz")
@limiter.exempt
def healthz() -> Response:
    """The process answers; nothing else is asked."""
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz() -> tuple[Response, int]:
    """Ready for traffic: 200, or 503 naming each failing part and why."""
    failing = problems(current_app)
    if failing:
        return jsonify(status="not ready", failing=failing), 503
    return jsonify(status="ready"), 200
