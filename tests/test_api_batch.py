"""Many reports in one request: each answered in its place, all recorded in one commit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.api.listings import BATCH_LIMIT
from app.extensions import db
from app.models import AuditEvent, Listing, ListingEvidence
from tests.helpers import run_at_once
from tests.test_api_write import PUBLIC, bearer, valid

OTHER = "45.33.33.7"


def batch(client, key, reports):
    return client.post("/api/v1/listings/batch", json={"reports": reports}, headers=bearer(key))


def test_each_report_is_answered_in_its_place_and_the_good_ones_are_recorded(app, client, keys):
    response = batch(
        client,
        keys["trap-feed"],
        [
            {"network": PUBLIC, "reason": "Spam trap hits", "kind": "trap", "evidence": "one"},
            {"network": "0.0.0.0/0", "reason": "Everything"},
            {"network": PUBLIC, "reason": "again", "kind": "trap", "evidence": "two"},
            {"network": OTHER, "reason": "Spam", "expires_in": "soon"},
            "not an object",
            {"network": OTHER, "reason": "Spam", "expires_in": 60},
        ],
    )
    assert response.status_code == 200
    results = valid(client, response, "BatchAnswer")["results"]
    assert [r["status"] for r in results] == [201, 422, 200, 400, 400, 201]
    # Each answer shows its listing as the whole batch left it.
    assert results[0]["listing"] == results[2]["listing"] and results[0]["listing"]["hits"] == 2
    assert (
        results[1]["error"]["field"] == "network" and "too wide" in (results[1]["error"]["message"])
    ), results[1]
    assert results[3]["error"] == {
        "error": "invalid_field",
        "message": "expires_in: must be a whole number of seconds",
        "field": "expires_in",
    }
    assert results[4]["error"]["field"] == "report"
    assert results[5]["listing"]["network"] == f"{OTHER}/32"
    with app.app_context():
        listed = db.session.execute(sa.select(Listing.network, Listing.hit_count)).all()
        assert sorted(map(tuple, listed)) == [(PUBLIC, 2), (f"{OTHER}/32", 1)]
        texts = db.session.execute(
            sa.select(Listing.network, ListingEvidence.text)
            .join(Listing, Listing.id == ListingEvidence.listing_id)
            .order_by(ListingEvidence.id)
        ).all()
        assert sorted(map(tuple, texts), key=str) == sorted(
            [(PUBLIC, "one"), (PUBLIC, "two"), (f"{OTHER}/32", None)], key=str
        )
        events = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.action.like("listing.%"))
            .order_by(AuditEvent.id)
        ).all()
        assert sorted(tuple(event) for event in events) == [
            ("listing.added", "apikey:trap-feed"),
            ("listing.added", "apikey:trap-feed"),
            ("listing.hit", "apikey:trap-feed"),
        ]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"reports": []},
        {"reports": {"network": PUBLIC}},
        {"reports": [{"network": PUBLIC, "reason": "x"}], "extra": 1},
        {"report": [{"network": PUBLIC, "reason": "x"}]},
        {"reports": [{"network": PUBLIC, "reason": "x"}] * (BATCH_LIMIT + 1)},
    ],
)
def test_a_batch_that_is_not_a_list_of_1_to_500_reports_is_a_400(app, client, keys, body):
    response = client.post("/api/v1/listings/batch", json=body, headers=bearer(keys["trap-feed"]))
    assert response.status_code == 400
    assert valid(client, response, "Error")["error"] == "invalid_json"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0


def test_a_batch_needs_a_write_key(client, keys):
    reports = [{"network": PUBLIC, "reason": "Spam"}]
    assert batch(client, keys["mirror"], reports).status_code == 403
    assert client.post("/api/v1/listings/batch", json={"reports": reports}).status_code == 401


@pytest.mark.parametrize("app_overrides", [{"API_KEY_RATE_LIMIT": "2 per minute"}])
def test_a_batch_counts_as_one_request_towards_the_key_limit(client, keys):
    reports = [{"network": f"45.33.34.{n}", "reason": "Spam"} for n in range(10)]
    assert batch(client, keys["trap-feed"], reports).status_code == 200
    assert batch(client, keys["trap-feed"], reports).status_code == 200
    assert batch(client, keys["trap-feed"], reports).status_code == 429


@pytest.mark.postgresql_only
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_batches_at_once_list_each_network_once_and_count_every_report(app, keys):
    """Concurrent batches of the same new networks: a unique index refuses the loser's
    insert, its second try makes them hits, and every report is counted."""
    networks = [f"45.33.35.{n}" for n in range(20)]
    reports = [{"network": network, "reason": "Spam"} for network in networks]
    clients = [app.test_client() for _ in range(4)]
    responses = run_at_once(lambda c: batch(c, keys["trap-feed"], reports), [(c,) for c in clients])
    assert [r.status_code for r in responses] == [200] * 4
    statuses = [result["status"] for r in responses for result in r.get_json()["results"]]
    assert sorted(statuses).count(201) == 20 and statuses.count(200) == 60
    with app.app_context():
        counts = db.session.scalars(sa.select(Listing.hit_count)).all()
        assert len(counts) == 20 and set(counts) == {4}


def test_many_reports_of_one_network_in_a_batch_count_each_and_keep_the_newest_evidence(
    app, client, keys
):
    reports = [
        {"network": PUBLIC, "reason": "Spam", "kind": "trap", "evidence": f"hit {n}"}
        for n in range(30)
    ]
    results = valid(client, batch(client, keys["trap-feed"], reports), "BatchAnswer")["results"]
    assert [r["status"] for r in results] == [201] + [200] * 29
    assert {r["listing"]["hits"] for r in results} == {30}
    with app.app_context():
        kept = db.session.scalars(sa.select(ListingEvidence.text).order_by(ListingEvidence.id))
        assert list(kept) == [f"hit {n}" for n in range(10, 30)]  # the newest 20
        hits = db.session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.action == "listing.hit")
        )
        assert hits == 29
