"""`/metrics` for Prometheus: from the METRICS_ALLOW networks, or anywhere with the bearer
token METRICS_TOKEN. No session cookie, no rate limit (a scraper calls every few seconds)."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, request

from app.extensions import limiter
from app.health import bp
from app.web.metrics import exposition


def may_read_metrics(config: Mapping[str, Any], address: str | None, authorization: str) -> bool:
    """From an allowed network, or with the configured bearer token."""
    token = config["METRICS_TOKEN"]
    scheme, _, given = authorization.partition(" ")
    if token and scheme.lower() == "bearer":
        return hmac.compare_digest(given.strip().encode(), token.encode())
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped:
        client = client.ipv4_mapped
    return any(client in network for network in config["METRICS_ALLOW_NETWORKS"])


@bp.get("/metrics")
@limiter.exempt
def metrics() -> Response:
    """The portal's figures in Prometheus's text format, or 401/403 in one line."""
    config = current_app.config
    if not may_read_metrics(config, request.remote_addr, request.headers.get("Authorization", "")):
        if config["METRICS_TOKEN"]:
            return Response(
                "metrics: a valid bearer token is needed from this address\n",
                401,
                {"WWW-Authenticate": 'Bearer realm="metrics"'},
                mimetype="text/plain",
            )
        return Response("metrics: not served to this address\n", 403, mimetype="text/plain")
    body, content_type = exposition()
    return Response(body, content_type=content_type)
