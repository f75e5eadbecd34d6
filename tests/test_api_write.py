"""The write API: report abuse, end listings and follow every change, with scoped bearer keys.

Every answer is checked against its schema in the OpenAPI document.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from app.accounts import api_keys
from app.core.actor import Actor
from app.extensions import db
from app.listing import allowlist, hits
from app.listing.addresses import parse_network
from app.models import AuditEvent, Listing, ListingEvidence
from tests.helpers import T0, add_listings, run_at_once
from tests.test_api import resolve_refs, schema

PUBLIC = "45.33.32.0/24"  # outside every special-purpose range


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post(client, key, **body):
    return client.post("/api/v1/listings", json=body, headers=bearer(key))


def valid(client, response, name):
    resolve_refs(schema(client, name)).validate(response.get_json())
    return response.get_json()


def test_a_report_lists_the_network_then_counts_hits_and_keeps_it_listed(
    app, client, keys, time_machine
):
    first = post(client, keys["trap-feed"], network=PUBLIC, reason="Spam trap hits")
    assert first.status_code == 201
    body = valid(client, first, "ListingState")
    assert body["network"] == PUBLIC and body["hits"] == 1 and body["listed"] is True
    assert body["expires_at"] == (T0 + timedelta(days=7)).isoformat()
    time_machine.move_to(T0 + timedelta(days=2), tick=False)
    again = post(
        client, keys["trap-feed"], network=PUBLIC, reason="x", evidence="to trap@x", kind="trap"
    )
    assert again.status_code == 200
    body = valid(client, again, "ListingState")
    assert body["hits"] == 2
    assert body["first_seen_at"] == T0.isoformat()
    assert body["last_seen_at"] == (T0 + timedelta(days=2)).isoformat()
    assert body["expires_at"] == (T0 + timedelta(days=9)).isoformat()  # extended by a hit
    assert body["reason"] == "Spam trap hits"  # the listing's, not the hit's
    lookup = client.get("/api/v1/lookup/45.33.32.9").get_json()
    assert lookup["listing"] == {k: body[k] for k in lookup["listing"]}
    assert "to trap@x" not in str(lookup)  # evidence texts stay with operators
    with app.app_context():
        evidence = db.session.execute(
            sa.select(ListingEvidence.kind, ListingEvidence.source, ListingEvidence.text).order_by(
                ListingEvidence.id
            )
        ).all()
        assert [tuple(row) for row in evidence] == [
            ("report", "trap-feed", None),  # the default kind
            ("trap", "trap-feed", "to trap@x"),
        ]
        audit = db.session.execute(
            sa.select(AuditEvent.actor, AuditEvent.action, AuditEvent.client_address).where(
                AuditEvent.action.like("listing.%")
            )
        ).all()
        assert [tuple(row) for row in audit] == [
            ("apikey:trap-feed", "listing.added", "127.0.0.1"),
            ("apikey:trap-feed", "listing.hit", "127.0.0.1"),
        ]


def test_expires_in_gives_a_new_listing_its_lifetime(client, keys):
    body = post(
        client, keys["trap-feed"], network="45.33.32.7", reason="Spam", expires_in=3600
    ).get_json()
    assert body["expires_at"] == (T0 + timedelta(hours=1)).isoformat()


@pytest.mark.parametrize("app_overrides", [{"DELIST_ALLOW_NON_GLOBAL_IPS": False}])
@pytest.mark.parametrize(
    ("network", "why"),
    [
        ("0.0.0.0/0", "too wide to list"),
        ("127.0.0.1", "RFC 5782"),
        ("10.1.2.3", "private space"),
        ("45.33.32.128/25", "allowlist entry 45.33.32.0/24 (our relay)"),
    ],
)
def test_what_may_never_be_listed_is_a_422_naming_the_field_and_the_rule(
    app, client, keys, network, why
):
    with app.app_context():
        allowlist.add(parse_network(PUBLIC), "our relay", actor=Actor("t"), now=T0)
        db.session.commit()
    response = post(client, keys["trap-feed"], network=network, reason="Spam")
    assert response.status_code == 422
    body = valid(client, response, "Error")
    assert (body["error"], body["field"]) == ("refused", "network")
    assert why in body["message"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "Spam"}, "network"),
        ({"network": 7, "reason": "Spam"}, "network"),
        ({"network": "example.com", "reason": "Spam"}, "network"),
        ({"network": "45.33.32.5/24", "reason": "Spam"}, "network"),  # host bits set
        ({"network": PUBLIC}, "reason"),
        ({"network": PUBLIC, "reason": "  "}, "reason"),
        ({"network": PUBLIC, "reason": "x" * 501}, "reason"),
        ({"network": PUBLIC, "reason": "Spam", "kind": "rumour"}, "kind"),
        ({"network": PUBLIC, "reason": "Spam", "evidence": "x" * 501}, "evidence"),
        ({"network": PUBLIC, "reason": "Spam", "evidence": ["a"]}, "evidence"),
        ({"network": PUBLIC, "reason": "Spam", "expires_in": "1h"}, "expires_in"),
        ({"network": PUBLIC, "reason": "Spam", "expires_in": 0}, "expires_in"),
        ({"network": PUBLIC, "reason": "Spam", "expires_in": True}, "expires_in"),
        ({"network": PUBLIC, "reason": "Spam", "expire_in": 60}, "expire_in"),
    ],
)
def test_a_bad_field_is_a_400_naming_it(client, keys, body, field):
    response = client.post("/api/v1/listings", json=body, headers=bearer(keys["trap-feed"]))
    assert response.status_code == 400
    answer = valid(client, response, "Error")
    assert (answer["error"], answer["field"]) == ("invalid_field", field)
    assert answer["message"].startswith(f"{field}: ")


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '"text"', ""])
def test_a_body_that_is_not_a_json_object_is_a_400(client, keys, data):
    headers = {**bearer(keys["trap-feed"]), "Content-Type": "application/json"}
    response = client.post("/api/v1/listings", data=data, headers=headers)
    assert response.status_code == 400
    assert valid(client, response, "Error")["error"] == "invalid_json"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer dlp_not-a-key-we-made", "Bearer a b"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/listings"),
        ("GET", "/api/v1/listings"),
        ("DELETE", f"/api/v1/listings/{quote(PUBLIC, safe='')}"),
    ],
)
def test_no_key_or_an_unknown_one_is_a_401_with_a_bearer_challenge(
    client, keys, authorization, method, path
):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.open(path, method=method, json={}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert valid(client, response, "Error")["error"] == "unauthorized"


def test_a_revoked_key_stops_working_at_once(app, client, keys):
    assert client.get("/api/v1/listings", headers=bearer(keys["mirror"])).status_code == 200
    with app.app_context():
        api_keys.revoke(api_keys.get("mirror"), actor=Actor("t"), now=T0)
        db.session.commit()
    response = client.get("/api/v1/listings", headers=bearer(keys["mirror"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_key_without_the_scope_is_a_403(client, keys):
    read_only = keys["mirror"]
    for response in (
        post(client, read_only, network=PUBLIC, reason="Spam"),
        client.delete(f"/api/v1/listings/{PUBLIC}", headers=bearer(read_only)),
    ):
        assert response.status_code == 403
        assert "insufficient_scope" in response.headers["WWW-Authenticate"]
        assert "listings:write" in valid(client, response, "Error")["message"]
    # A key that may write may read too.
    assert client.get("/api/v1/listings", headers=bearer(keys["trap-feed"])).status_code == 200


@pytest.mark.parametrize("spelling", ["45.33.32.0%2F24", "45.33.32.0/24"])
def test_delete_ends_the_listing_now_audited_as_the_key(app, client, keys, spelling):
    add_listings(app, PUBLIC)
    response = client.delete(f"/api/v1/listings/{spelling}", headers=bearer(keys["trap-feed"]))
    assert response.status_code == 200
    body = valid(client, response, "ListingState")
    assert (body["listed"], body["removed_at"]) == (False, T0.isoformat())
    assert client.get("/api/v1/lookup/45.33.32.1").get_json()["listed"] is False
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "listing.removed")
        ).one()
        assert event.actor == "apikey:trap-feed"
    again = client.delete(f"/api/v1/listings/{spelling}", headers=bearer(keys["trap-feed"]))
    assert again.status_code == 404
    assert valid(client, again, "Error")["error"] == "not_listed"


def test_delete_of_an_address_ends_only_exactly_that_listing(app, client, keys):
    add_listings(app, PUBLIC)
    response = client.delete("/api/v1/listings/45.33.32.7", headers=bearer(keys["trap-feed"]))
    assert response.status_code == 404
    bad = client.delete("/api/v1/listings/not-an-ip", headers=bearer(keys["trap-feed"]))
    assert bad.status_code == 400 and bad.get_json()["field"] == "network"


def _feed(client, key, **params):
    response = client.get("/api/v1/listings", query_string=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return valid(client, response, "ListingPage")


def test_the_feed_pages_through_every_change_in_order_with_equal_times(
    app, client, keys, time_machine
):
    # Five listings changed at the same instant (as an import stamps them), then two more.
    add_listings(app, *(f"45.33.{n}.0/24" for n in range(5)))
    time_machine.move_to(T0 + timedelta(minutes=5), tick=False)
    with app.app_context():
        for n in (5, 6):
            hits.report_abuse(
                parse_network(f"45.33.{n}.0/24"),
                "Spam",
                hits.Evidence("trap", "t"),
                actor=Actor("t"),
                now=T0 + timedelta(minutes=5),
            )
        db.session.commit()
    seen, page, pages = [], _feed(client, keys["mirror"], limit=2), 1
    while True:
        seen += [item["network"] for item in page["listings"]]
        if page["next"] is None:
            break
        page, pages = _feed(client, keys["mirror"], cursor=page["next"], limit=2), pages + 1
    assert seen == [f"45.33.{n}.0/24" for n in range(7)]
    assert pages == 4
    assert page["resume_since"] == (T0 + timedelta(minutes=4)).isoformat()  # a minute back
    # Polling from there sees the newest changes again (harmless), and nothing older.
    since = _feed(client, keys["mirror"], changed_since=page["resume_since"])
    assert [item["network"] for item in since["listings"]] == ["45.33.5.0/24", "45.33.6.0/24"]
    assert _feed(client, keys["mirror"], changed_since="2027-01-01T00:00:00Z") == {
        "listings": [],
        "next": None,
        "resume_since": "2027-01-01T00:00:00+00:00",
    }


def test_the_feed_shows_ended_listings_so_copies_drop_them(app, client, keys, time_machine):
    add_listings(app, PUBLIC)
    time_machine.move_to(T0 + timedelta(hours=1), tick=False)
    client.delete(f"/api/v1/listings/{quote(PUBLIC, safe='')}", headers=bearer(keys["trap-feed"]))
    page = _feed(client, keys["mirror"], changed_since=(T0 + timedelta(minutes=30)).isoformat())
    [item] = page["listings"]
    assert (item["network"], item["listed"]) == (PUBLIC, False)
    assert item["removed_at"] == item["changed_at"] == (T0 + timedelta(hours=1)).isoformat()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"changed_since": "yesterday"}, "changed_since"),
        ({"changed_since": "2026-03-02T09:00:00"}, "changed_since"),  # no time zone
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "9" * 30 + "-1"}, "cursor"),
        ({"cursor": "1-" + "9" * 30}, "cursor"),
        ({"cursor": "\u0661-1"}, "cursor"),  # an Arabic-Indic digit
        ({"cursor": "1-2", "changed_since": "2026-03-02T09:00:00Z"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"since": "2026-03-02T09:00:00Z"}, "since"),
    ],
)
def test_bad_feed_parameters_are_a_400_naming_them(client, keys, params, field):
    response = client.get("/api/v1/listings", query_string=params, headers=bearer(keys["mirror"]))
    assert response.status_code == 400
    assert valid(client, response, "Error")["field"] == field


@pytest.mark.parametrize("app_overrides", [{"API_KEY_RATE_LIMIT": "2 per minute"}])
def test_each_key_has_its_own_rate_limit_across_the_endpoints(client, keys):
    writer = keys["trap-feed"]
    assert post(client, writer, network=PUBLIC, reason="Spam").status_code == 201
    assert client.get("/api/v1/listings", headers=bearer(writer)).status_code == 200
    limited = post(client, writer, network=PUBLIC, reason="Spam")
    assert limited.status_code == 429
    assert valid(client, limited, "Error")["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # Another key (from the same address) is counted on its own.
    assert client.get("/api/v1/listings", headers=bearer(keys["mirror"])).status_code == 200


def test_last_used_is_recorded_at_most_once_a_minute(app, client, keys, time_machine):
    def last_used():
        with app.app_context():
            return api_keys.get("mirror").last_used_at

    assert last_used() is None
    client.get("/api/v1/listings", headers=bearer(keys["mirror"]))
    assert last_used() == T0
    time_machine.move_to(T0 + timedelta(seconds=59), tick=False)
    client.get("/api/v1/listings", headers=bearer(keys["mirror"]))
    assert last_used() == T0
    time_machine.move_to(T0 + timedelta(seconds=61), tick=False)
    client.get("/api/v1/listings", headers=bearer(keys["mirror"]))
    assert last_used() == T0 + timedelta(seconds=61)


def test_the_openapi_document_describes_the_write_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        **spec["components"]["securitySchemes"]["bearer"],
        "type": "http",
        "scheme": "bearer",
    }
    paths = spec["paths"]
    assert set(paths["/api/v1/listings"]) == {"get", "post"}
    assert set(paths["/api/v1/listings/{network}"]) == {"delete"}
    assert paths["/api/v1/listings"]["post"]["security"] == [{"bearer": ["listings:write"]}]
    assert paths["/api/v1/listings"]["get"]["security"] == [{"bearer": ["listings:read"]}]


@pytest.mark.postgresql_only
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_reports_at_once_are_each_counted(app, keys):
    """Concurrent reports on a network not listed yet: one lists it, the rest are hits."""
    clients = [app.test_client() for _ in range(8)]
    responses = run_at_once(
        lambda c: post(c, keys["trap-feed"], network=PUBLIC, reason="Spam"),
        [(c,) for c in clients],
    )
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    with app.app_context():
        assert db.session.scalars(sa.select(Listing.hit_count)).one() == 8
