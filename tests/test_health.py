"""/healthz and /readyz: what a load balancer and a monitoring script are told."""

import os

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from tests.helpers import BASE_CONFIG, free_port

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


def probe(app, path):
    """GET a probe the way a monitor does; the answer must never set a cookie."""
    response = app.test_client().get(path)
    assert "Set-Cookie" not in response.headers
    assert response.mimetype == "application/json"
    return response


def app_with(tmp_path, **settings):
    return create_app({**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **settings})


def test_a_migrated_database_is_ready(app):
    assert probe(app, "/healthz").json == {"status": "ok"}
    response = probe(app, "/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready"}


def test_a_database_one_migration_behind_is_named_and_the_portal_keeps_answering(app):
    with app.app_context():
        downgrade(revision="-1")
        db.session.remove()
    try:
        response = probe(app, "/readyz")
        assert response.status_code == 503
        assert list(response.json["failing"]) == ["database"]
        assert "db upgrade" in response.json["failing"]["database"]
        assert probe(app, "/healthz").status_code == 200
    finally:
        with app.app_context():
            upgrade()
    assert probe(app, "/readyz").status_code == 200


def stamp(app, revision: str) -> str:
    """Set the schema's recorded migration; return the one it had."""
    with app.app_context():
        was = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        db.session.commit()
    return was


def test_a_database_newer_than_the_code_is_named(app):
    was = stamp(app, "9999")
    try:
        response = probe(app, "/readyz")
    finally:
        stamp(app, was)  # the PostgreSQL database serves the next tests
    assert response.status_code == 503
    assert response.json["failing"]["database"].startswith("schema at migration 9999, newer")


def test_a_database_without_a_schema_is_not_ready(tmp_path):
    response = probe(app_with(tmp_path), "/readyz")
    assert response.status_code == 503
    assert response.json["failing"]["database"].startswith("no schema")


def test_a_stopped_postgresql_server_is_named_and_the_portal_keeps_answering(tmp_path, caplog):
    # Nothing listens on this port: as a stopped server, connections are refused.
    url = f"postgresql://delist@127.0.0.1:{free_port()}/delist"
    app = create_app({**BASE_CONFIG, "DATABASE_URL": url})
    assert probe(app, "/healthz").json == {"status": "ok"}
    response = probe(app, "/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "not ready", "failing": {"database": "unreachable"}}
    assert "127.0.0.1" not in response.text  # the reason is public; the details go to the log
    assert any("database unreachable" in r.getMessage() for r in caplog.records)
    assert probe(app, "/healthz").status_code == 200


def test_an_unreachable_redis_is_named(app):
    app.config["RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:{free_port()}/0"
    response = probe(app, "/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == {"redis": "unreachable"}


@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL is not set")
def test_a_reachable_redis_is_ready(app):
    app.config["RATELIMIT_STORAGE_URI"] = TEST_REDIS_URL
    assert probe(app, "/readyz").status_code == 200


def test_probes_are_never_rate_limited(tmp_path, limit_on_every_page):
    app = app_with(tmp_path, **limit_on_every_page)
    client = app.test_client()
    assert [client.get("/help").status_code for _ in range(3)] == [200, 200, 429]
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503  # no schema here, and still no 429
