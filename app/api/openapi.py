"""The OpenAPI 3.1 description of the JSON API (served at /api/v1/openapi.json).

Over 300 lines because it is data: the document itself, one schema per answer.
"""

ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "examples": ["invalid_address"]},
        "message": {"type": "string"},
        "field": {
            "type": "string",
            "description": "The input field (or query parameter) at fault, when there is one.",
            "examples": ["network"],
        },
    },
    "additionalProperties": False,
}

TIME = {"type": "string", "format": "date-time"}
TIME_OR_NULL = {"oneOf": [{"type": "null"}, TIME]}

LISTING = {
    "type": "object",
    "description": "A listing as every answer shows it. Evidence texts are never shown.",
    "required": [
        "network",
        "reason",
        "listed_at",
        "expires_at",
        "hits",
        "first_seen_at",
        "last_seen_at",
    ],
    "properties": {
        "network": {"type": "string", "examples": ["203.0.113.0/24"]},
        "reason": {"type": "string"},
        "listed_at": TIME,
        "expires_at": {
            **TIME_OR_NULL,
            "description": "When the listing ends on its own if no more abuse is seen; "
            "null when it is permanent.",
        },
        "hits": {"type": "integer", "minimum": 1, "description": "How often abuse was seen."},
        "first_seen_at": TIME,
        "last_seen_at": TIME,
    },
    # Open here, so ListingState can extend it; each answer closes it (unevaluatedProperties).
}

LISTING_STATE = {
    "description": "A listing with what a copy of the list needs to follow it.",
    "allOf": [
        {"$ref": "#/components/schemas/Listing"},
        {
            "type": "object",
            "required": ["id", "listed", "removal_effective_at", "removed_at", "changed_at"],
            "properties": {
                "id": {"type": "integer"},
                "listed": {
                    "type": "boolean",
                    "description": "In force now. A copy of the list must also honour "
                    "expires_at and removal_effective_at itself when they pass.",
                },
                "removal_effective_at": {
                    **TIME_OR_NULL,
                    "description": "When a scheduled removal takes effect.",
                },
                "removed_at": {**TIME_OR_NULL, "description": "When the listing ended."},
                "changed_at": TIME,
            },
        },
    ],
    "unevaluatedProperties": False,
}

REPORT = {
    "type": "object",
    "required": ["network", "reason"],
    "properties": {
        "network": {
            "type": "string",
            "description": "An address or a CIDR range (host bits zero).",
            "examples": ["198.51.100.7", "198.51.100.0/24"],
        },
        "reason": {
            "type": "string",
            "maxLength": 500,
            "description": "Shown to the sender, when the network is listed by this report.",
        },
        "evidence": {
            "oneOf": [{"type": "null"}, {"type": "string", "maxLength": 500}],
            "description": "What was seen (operators only; never shown to senders).",
        },
        "kind": {
            "type": "string",
            "enum": ["trap", "filter", "report", "operator"],
            "default": "report",
            "description": "How the abuse was seen.",
        },
        "expires_in": {
            "oneOf": [{"type": "null"}, {"type": "integer", "minimum": 1}],
            "description": "Lifetime in seconds of a new listing; default LISTING_TTL_SECONDS "
            "(longer for repeat offenders). A hit extends the listing by its own lifetime.",
        },
    },
    "additionalProperties": False,
}

BATCH = {
    "type": "object",
    "required": ["reports"],
    "properties": {
        "reports": {
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "items": {"$ref": "#/components/schemas/Report"},
        }
    },
    "additionalProperties": False,
}


def _batch_result(statuses: list[int], part: str, schema: str) -> dict:
    return {
        "type": "object",
        "required": ["status", part],
        "properties": {
            "status": {"enum": statuses},
            part: {"$ref": f"#/components/schemas/{schema}"},
        },
        "additionalProperties": False,
    }


BATCH_ANSWER = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {
            "type": "array",
            "description": "One per report, in the order sent: what POST /api/v1/listings "
            "would have answered for it.",
            "items": {
                "oneOf": [
                    _batch_result([200, 201], "listing", "ListingState"),
                    _batch_result([400, 422], "error", "Error"),
                ]
            },
        }
    },
    "additionalProperties": False,
}

PAGE = {
    "type": "object",
    "required": ["listings", "next", "resume_since"],
    "properties": {
        "listings": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/ListingState"},
            "description": "Changed listings, oldest change first (then by id).",
        },
        "next": {
            "oneOf": [{"type": "null"}, {"type": "string"}],
            "description": "Pass as `cursor` for the next page; null on the last page.",
        },
        "resume_since": {
            **TIME_OR_NULL,
            "description": "Once `next` is null, poll again later with this as "
            "`changed_since` (it reaches back a minute for late commits; a change may "
            "come twice).",
        },
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
                {"$ref": "#/components/schemas/Listing", "unevaluatedProperties": False},
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


def _json(description: str, schema: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _keyed(scope: str) -> dict:
    """What every endpoint with a key has in common: its security and its refusals."""
    return {
        "security": [{"bearer": [scope]}],
        "responses": {
            "401": {
                **_error_response("No key, or an unknown or revoked one."),
                "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
            },
            "403": _error_response(f"The key lacks the scope {scope}."),
            "429": _error_response("Too many requests for this key (API_KEY_RATE_LIMIT)."),
        },
    }


def _operation(scope: str, responses: dict, **fields: object) -> dict:
    keyed = _keyed(scope)
    return {
        **fields,
        "security": keyed["security"],
        "responses": {**responses, **keyed["responses"]},
    }


OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "Delist portal API",
        "version": "1",
        "description": "Is an IP address on the blocked-senders list? (public) And, with an "
        "API key, report abuse, end listings and follow every change to the list.",
    },
    "paths": {
        "/api/v1/lookup/{ip}": {
            "get": {
                "operationId": "lookup",
                "summary": "Look up one IPv4 or IPv6 address",
                "security": [],
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
                    "200": _json("The answer, listed or not.", "Lookup"),
                    "400": _error_response("Not one IP address."),
                    "429": _error_response("Too many requests; see the Retry-After header."),
                },
            }
        },
        "/api/v1/listings": {
            "post": _operation(
                "listings:write",
                {
                    "200": _json(
                        "A hit on the listing that already blocks the network.", "ListingState"
                    ),
                    "201": _json("The network is listed.", "ListingState"),
                    "400": _error_response("Not a JSON object, or a field is wrong (`field`)."),
                    "422": _error_response(
                        "The network may never be listed: too wide, holds 127.0.0.1, "
                        "special-purpose space or the allowlist (`field` is network)."
                    ),
                },
                operationId="reportAbuse",
                summary="Report abuse from a network: list it, or count a hit",
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Report"}}
                    },
                },
            ),
            "get": _operation(
                "listings:read",
                {
                    "200": _json("A page of changes.", "ListingPage"),
                    "400": _error_response("A bad parameter (`field`)."),
                },
                operationId="listingChanges",
                summary="Listings changed since a time, oldest change first, in pages",
                parameters=[
                    {
                        "name": "changed_since",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                        "description": "Changes at or after this time (with a time zone); "
                        "omit to read the whole history.",
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "The `next` of the previous page (not with changed_since).",
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 1000,
                            "default": 100,
                        },
                    },
                ],
            ),
        },
        "/api/v1/listings/batch": {
            "post": _operation(
                "listings:write",
                {
                    "200": _json(
                        "Each report answered in its place; the good ones are recorded even "
                        "when others were wrong or refused.",
                        "BatchAnswer",
                    ),
                    "400": _error_response('Not {"reports": [...]} with 1 to 500 reports.'),
                },
                operationId="reportAbuseBatch",
                summary="Up to 500 reports in one request and one transaction",
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}
                    },
                },
            ),
        },
        "/api/v1/listings/{network}": {
            "delete": _operation(
                "listings:write",
                {
                    "200": _json("The listing ended now.", "ListingState"),
                    "400": _error_response("Not an address or CIDR range."),
                    "404": _error_response("Exactly this network is not listed."),
                },
                operationId="removeListing",
                summary="End the listing of exactly this network now",
                parameters=[
                    {
                        "name": "network",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "An address, or a CIDR range with its slash encoded.",
                        "examples": {
                            "range": {"value": "198.51.100.0%2F24"},
                            "address": {"value": "198.51.100.7"},
                        },
                    }
                ],
            ),
        },
    },
    "components": {
        "schemas": {
            "Lookup": LOOKUP,
            "Listing": LISTING,
            "ListingState": LISTING_STATE,
            "ListingPage": PAGE,
            "Report": REPORT,
            "Batch": BATCH,
            "BatchAnswer": BATCH_ANSWER,
            "Error": ERROR,
        },
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key (`flask --app wsgi apikey create NAME --scope ...`), "
                "with the scopes listings:read and/or listings:write (write includes read).",
            }
        },
    },
}
