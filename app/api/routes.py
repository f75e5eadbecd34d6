"""GET /api/v1/lookup/<ip> and the OpenAPI document."""

from flask import Response, jsonify

from app.api import bp
from app.api.openapi import OPENAPI
from app.core.clock import utcnow
from app.listing.addresses import AddressError, parse_address
from app.listing.lookup import look_up
from app.web.rate_limits import lookup_limit


@bp.get("/lookup/<path:ip>")
@lookup_limit
def lookup(ip: str) -> Response | tuple[Response, int]:
    try:
        address = parse_address(ip)
    except AddressError as exc:
        return jsonify(error="invalid_address", message=str(exc)), 400
    return jsonify(look_up(address, utcnow()).as_json())


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(OPENAPI)
