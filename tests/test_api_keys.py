"""API keys: created on the command line and shown once, kept as hashes, listed and revoked
(CLI and admin page, audited), and never written to a log."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from gunicorn.config import Config

from app.accounts import api_keys
from app.core.actor import Actor
from app.core.errors import Conflict, Invalid
from app.extensions import db
from app.models import ApiKey, AuditEvent
from app.web.gunicorn_logging import RedactingLogger
from tests.helpers import T0, page_text
from tests.helpers_admin import post_form, signed_in


def create(app, name="trap-feed", scopes=("listings:write",)) -> str:
    with app.app_context():
        _, secret = api_keys.create(name, scopes, actor=Actor("test"), now=T0)
        db.session.commit()
    return secret


def test_a_key_is_long_random_and_kept_only_as_its_hash(app):
    secret = create(app)
    assert secret.startswith("dlp_") and len(secret) == 4 + 43
    assert create(app, "other") != secret
    with app.app_context():
        row = db.session.execute(
            sa.select(ApiKey.__table__).where(ApiKey.name == "trap-feed")
        ).one()
        assert secret not in repr(tuple(row))
        assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert api_keys.authenticate(secret).name == "trap-feed"
        assert api_keys.authenticate(secret[:-1] + "x") is None


@pytest.mark.parametrize("name", ["", "-x", "has space", "ümlaut", "x" * 61, "a/b"])
def test_a_name_must_be_short_and_plain(ctx, name):
    with pytest.raises(Invalid):
        api_keys.create(name, ["listings:read"], actor=Actor("t"), now=T0)


@pytest.mark.parametrize("scopes", [[], ["listings:admin"], ["listings:read", "everything"]])
def test_scopes_must_be_known(ctx, scopes):
    with pytest.raises(Invalid):
        api_keys.create("x", scopes, actor=Actor("t"), now=T0)


def test_names_are_never_reused_so_the_audit_log_names_one_key(ctx):
    api_key, _ = api_keys.create("feed", ["listings:read"], actor=Actor("t"), now=T0)
    api_keys.revoke(api_key, actor=Actor("t"), now=T0)
    with pytest.raises(Conflict, match="never reused"):
        api_keys.create("Feed", ["listings:read"], actor=Actor("t"), now=T0)
    with pytest.raises(Conflict, match="revoked already"):
        api_keys.revoke(api_key, actor=Actor("t"), now=T0)


def test_write_includes_read_but_not_the_other_way(ctx):
    writer, _ = api_keys.create("w", ["listings:write"], actor=Actor("t"), now=T0)
    reader, _ = api_keys.create("r", ["listings:read"], actor=Actor("t"), now=T0)
    assert api_keys.allows(writer, "listings:read") and api_keys.allows(writer, "listings:write")
    assert api_keys.allows(reader, "listings:read")
    assert not api_keys.allows(reader, "listings:write")


def test_cli_create_prints_the_key_alone_on_stdout_once(app, runner):
    result = runner.invoke(
        args=[
            "apikey",
            "create",
            "trap-feed",
            "--scope",
            "listings:write",
            "--scope",
            "listings:read",
        ]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("dlp_") and "\n" not in secret
    assert "created API key trap-feed (listings:read, listings:write)" in result.stderr
    assert "cannot be shown again" in result.stderr
    with app.app_context():
        assert api_keys.authenticate(secret).name == "trap-feed"
    listed = runner.invoke(args=["apikey", "list"])
    assert listed.exit_code == 0
    assert secret not in listed.output
    assert listed.output.split("\t")[:2] == ["trap-feed", "listings:read,listings:write"]
    assert "last used never\tactive" in listed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "x"], "Missing option '--scope'"),
        (["create", "x", "--scope", "listings:admin"], "'listings:admin' is not one of"),
        (["create", "Bad Name", "--scope", "listings:read"], "a key's name is 1 to 60"),
        (["create", "taken", "--scope", "listings:read"], "exists already"),
        (["revoke", "nobody"], "no API key named nobody"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_status_2(app, runner, args, message):
    create(app, "taken")
    result = runner.invoke(args=["apikey", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_revoke_ends_the_key_and_is_audited(app, runner, client):
    secret = create(app)
    result = runner.invoke(args=["apikey", "revoke", "trap-feed", "--reason", "leaked"])
    assert (result.exit_code, result.output.strip()) == (0, "revoked trap-feed")
    listed = runner.invoke(args=["apikey", "list"]).output
    assert "\trevoked 2026-03-02T09:00:00+00:00 by cli:" in listed
    response = client.get("/api/v1/listings", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "api_key.revoked")
        ).one()
        assert event.actor.startswith("cli:") and event.detail == "trap-feed: leaked"
    assert runner.invoke(args=["apikey", "revoke", "trap-feed"]).exit_code == 2


def test_admin_page_lists_keys_and_an_admin_revokes_one_with_a_reason(app, client, time_machine):
    secret = create(app)
    create(app, "mirror", ["listings:read"])
    time_machine.move_to(T0 + timedelta(minutes=5), tick=False)
    client.get("/api/v1/listings", headers={"Authorization": f"Bearer {secret}"})
    admin = signed_in(app)
    page = admin.get("/admin/api-keys")
    assert page.status_code == 200
    text = page_text(page)
    assert "trap-feed listings:write" in text and "mirror listings:read" in text
    assert "never" in text  # mirror was not used
    assert secret not in page.text
    assert 'href="/admin/api-keys"' in page.text  # in the navigation
    with app.app_context():
        key_id = api_keys.get("trap-feed").id
    action = f"/admin/api-keys/{key_id}/revoke"
    assert post_form(admin, "/admin/api-keys", action, why="").status_code == 303
    with app.app_context():
        assert api_keys.get("trap-feed").active  # no reason, no revoke
    done = post_form(admin, "/admin/api-keys", action, why="rotated")
    assert done.status_code == 303
    assert "is revoked" in page_text(admin.get("/admin/api-keys"))
    with app.app_context():
        revoked = api_keys.get("trap-feed")
        assert (revoked.revoked_by, revoked.revoked_at) == (
            "operator:admin@example.net",
            T0 + timedelta(minutes=5),
        )
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "api_key.revoked")
        ).one()
        assert (event.actor, event.detail) == ("operator:admin@example.net", "trap-feed: rotated")
    response = client.get("/api/v1/listings", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_a_viewer_sees_the_keys_but_may_not_revoke(app):
    create(app)
    viewer = signed_in(app, role="viewer")
    page = viewer.get("/admin/api-keys")
    assert page.status_code == 200 and "trap-feed" in page.text
    assert "/revoke" not in page.text
    with app.app_context():
        key_id = api_keys.get("trap-feed").id
    response = post_form(viewer, "/admin/api-keys", f"/admin/api-keys/{key_id}/revoke", why="x")
    assert response.status_code == 403
    with app.app_context():
        assert api_keys.get("trap-feed").active


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/api-keys")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def _access_line(secret: str) -> str:
    """What gunicorn's access log writes for an API request, with a format that prints the
    Authorization header and the environ's copy of it."""

    class Response:
        status = "201 CREATED"
        sent = 120
        headers = (("Content-Type", "application/json"),)

    class Request:
        headers = (("AUTHORIZATION", f"Bearer {secret}"), ("HOST", "delist.example.test"))

    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/api/v1/listings?oops={secret}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_AUTHORIZATION": f"Bearer {secret}",
        "PATH_INFO": "/api/v1/listings",
        "QUERY_STRING": f"oops={secret}",
    }
    logger = RedactingLogger(Config())
    atoms = logger.atoms(Response(), Request(), environ, timedelta(milliseconds=3))
    log_format = '%(h)s "%(r)s" %(s)s %(q)s auth=%({authorization}i)s env=%({http_authorization}e)s'
    return log_format % atoms


def test_the_key_is_never_in_a_log_line(app, client, caplog):
    caplog.set_level(logging.DEBUG)
    secret = create(app)
    headers = {"Authorization": f"Bearer {secret}"}
    client.post(
        "/api/v1/listings", json={"network": "45.33.32.0/24", "reason": "Spam"}, headers=headers
    )
    client.post("/api/v1/listings", json={"network": "127.0.0.1", "reason": "x"}, headers=headers)
    client.get(f"/api/v1/listings?cursor={secret}", headers=headers)
    client.get("/api/v1/listings", headers={"Authorization": f"Bearer {secret}x"})
    client.get("/api/v1/listings", headers={"Authorization": f"Basic {secret}"})
    logging.getLogger("app").warning("a key pasted by mistake: %s", secret)
    assert "api_key.refused" in caplog.text and "listing.added" in caplog.text
    assert secret not in caplog.text
    assert secret[4:] not in caplog.text
    line = _access_line(secret)
    assert secret[4:] not in line
    assert '"POST /api/v1/listings?oops=dlp_[redacted] HTTP/1.1" 201' in line
    assert "auth=[redacted] env=[redacted]" in line
