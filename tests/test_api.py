"""GET /api/v1/lookup/<ip>, its OpenAPI document, and the public lookup page."""

from datetime import timedelta

import jsonschema
import pytest
from openapi_spec_validator import validate

from app.core.actor import Actor
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from tests.helpers import T0, page_text


@pytest.fixture
def listed(app):
    with app.app_context():
        blocklist.add_listing(parse_network("203.0.113.7"), "Spam traps", actor=Actor("t"), now=T0)
        blocklist.add_listing(parse_network("192.0.2.0/24"), "Botnet", actor=Actor("t"), now=T0)
        db.session.commit()


def schema(client, name):
    spec = client.get("/api/v1/openapi.json").get_json()
    return {**spec["components"]["schemas"][name], "components": spec["components"]}


def resolve_refs(schema_):
    # The component schemas refer to each other through #/components/schemas/...
    return jsonschema.validators.validator_for({})(
        schema_, format_checker=jsonschema.FormatChecker()
    )


def test_openapi_document_is_valid(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    validate(response.get_json())


def test_listed_address(client, listed):
    response = client.get("/api/v1/lookup/203.0.113.7")
    assert response.status_code == 200
    body = response.get_json()
    resolve_refs(schema(client, "Lookup")).validate(body)
    assert body == {
        "ip": "203.0.113.7",
        "listed": True,
        "listing": {
            "network": "203.0.113.7/32",
            "reason": "Spam traps",
            "listed_at": T0.isoformat(),
            "expires_at": (T0 + timedelta(days=7)).isoformat(),  # LISTING_TTL_SECONDS
            "hits": 1,
            "first_seen_at": T0.isoformat(),
            "last_seen_at": T0.isoformat(),
        },
        "removal_effective_at": None,
        "delist_url": "https://delist.example.test/?ip=203.0.113.7",
    }


def test_address_inside_a_listed_range_and_scheduled_removal(client, app, listed):
    body = client.get("/api/v1/lookup/192.0.2.55").get_json()
    assert body["listed"] and body["listing"]["network"] == "192.0.2.0/24"
    with app.app_context():
        listing = blocklist.find_listing(parse_network("203.0.113.7").network_address, T0)
        listing.removal_effective_at = T0 + timedelta(hours=1)
        db.session.commit()
    body = client.get("/api/v1/lookup/203.0.113.7").get_json()
    assert body["removal_effective_at"] == (T0 + timedelta(hours=1)).isoformat()


def test_unlisted_address(client, listed):
    body = client.get("/api/v1/lookup/2001:db8::1").get_json()
    resolve_refs(schema(client, "Lookup")).validate(body)
    assert body["listed"] is False and body["listing"] is None


@pytest.mark.parametrize("bad", ["example.com", "203.0.113.0/24", "1.2.3.4.5", "%20"])
def test_bad_address_gets_a_json_400(client, bad):
    response = client.get(f"/api/v1/lookup/{bad}")
    assert response.status_code == 400
    assert response.is_json
    resolve_refs(schema(client, "Error")).validate(response.get_json())


def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize("app_overrides", [{"API_RATE_LIMIT": "3 per minute"}])
def test_api_is_rate_limited_with_a_json_429(client, listed):
    for _ in range(3):
        assert client.get("/api/v1/lookup/203.0.113.7").status_code == 200
    response = client.get("/api/v1/lookup/203.0.113.7")
    assert response.status_code == 429
    assert response.get_json()["error"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_lookup_page_shows_the_listing_and_starts_delisting(client, listed):
    page = client.get("/lookup?ip=203.0.113.7")
    assert page.status_code == 200
    text = page_text(page)
    assert "203.0.113.7 is listed" in text
    assert "Spam traps" in text
    assert 'href="/?ip=203.0.113.7"' in page.text
    start = client.get("/?ip=203.0.113.7")
    assert 'value="203.0.113.7"' in start.text


def test_lookup_page_for_unlisted_and_bad_input(client, listed):
    assert "198.51.100.1 is not listed" in page_text(client.get("/lookup?ip=198.51.100.1"))
    bad = client.get("/lookup?ip=not-an-ip")
    assert bad.status_code == 400
    assert 'id="ip-error"' in bad.text
    assert client.get("/lookup").status_code == 200
