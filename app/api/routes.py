"""GET /api/v1/lookup/<ip> and the OpenAPI document."""

from flask import Response, current_app, jsonify

from app.api import bp
from app.api.openapi import OPENAPI
from app.core.clock import utcnow
from app.extensions import limiter
from app.listing.addresses import AddressError, parse_address
from app.listing.lookup import look_up


def _api_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


@bp.get("/lookup/<path:ip>")
@limiter.limit(_api_limit)
def lookup(ip: str) -> Response | tuple[Response, int]:
    try:
        address = parse_address(ip)
    except AddressError as exc:
        return jsonify(error="invalid_address", message=str(exc)), 400
    return jsonify(look_up(address, utcnow()).as_json())


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(OPENAPI)
