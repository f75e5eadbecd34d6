"""The OpenAPI 3.1 description of the JSON API (served at /api/v1/openapi.json)."""

ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "examples": ["invalid_address"]},
        "message": {"type": "string"},
    },
    "additionalProperties": False,
}

LOOKUP = {
    "type": "object",
    "required": ["ip", "listed", "listing", "removal_effective_at", "delist_url"],
    "properties": {
        "ip": {
            "type": "string",
            "description": "The address, normalised.",
            "examples": ["203.0.113.7"],
        },
        "listed": {
            "type": "boolean",
            "description": "Whether mail from the address is refused now.",
        },
        "listing": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["network", "reason", "listed_at", "expires_at"],
                    "properties": {
                        "network": {"type": "string", "examples": ["203.0.113.0/24"]},
                        "reason": {"type": "string"},
                        "listed_at": {"type": "string", "format": "date-time"},
                        "expires_at": {
                            "oneOf": [{"type": "null"}, {"type": "string", "format": "date-time"}],
                            "description": "When the listing ends on its own if no more "
                            "abuse is seen; null when it is permanent.",
                        },
                    },
                    "additionalProperties": False,
                },
            ],
            "description": "The most specific listing that blocks the address, if any.",
        },
        "removal_effective_at": {
            "oneOf": [{"type": "null"}, {"type": "string", "format": "date-time"}],
            "description": "When a scheduled removal takes effect.",
        },
        "delist_url": {
            "type": "string",
            "format": "uri",
            "description": "Where the sender can ask for removal.",
        },
    },
    "additionalProperties": False,
}


def _error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "Delist portal API",
        "version": "1",
        "description": "Is an IP address on the blocked-senders list?",
    },
    "paths": {
        "/api/v1/lookup/{ip}": {
            "get": {
                "operationId": "lookup",
                "summary": "Look up one IPv4 or IPv6 address",
                "parameters": [
                    {
                        "name": "ip",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "examples": {
                            "ipv4": {"value": "203.0.113.7"},
                            "ipv6": {"value": "2001:db8::7"},
                        },
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The answer, listed or not.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Lookup"}}
                        },
                    },
                    "400": _error_response("Not one IP address."),
                    "429": _error_response("Too many requests; see the Retry-After header."),
                },
            }
        }
    },
    "components": {"schemas": {"Lookup": LOOKUP, "Error": ERROR}},
}
