"""Debian's nginx with the shipped site (`contrib/nginx/`) in front of the portal in gunicorn:
the client address the app sees, HTTPS headers and cookies, static files, body limits, and
an access log without confirmation tokens."""

import http.client
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.web.security import HSTS
from tests.helpers import csrf_token, run_worker
from tests.helpers_nginx import (
    HOST,
    PROJECT_ROOT,
    Visitor,
    checked_beside_debians_defaults,
    make_certificate,
    portal_behind_nginx,
    site_config,
)

# The proxy does not depend on the database: one is enough.
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
LOOKUP = "/lookup?ip=203.0.113.7"
FORGED = {"X-Forwarded-For": "198.51.100.99"}


def submitted_from(app) -> list[str | None]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent.client_address)
                .where(AuditEvent.action == "request.submitted")
                .order_by(AuditEvent.id)
            )
        )


def test_the_site_loads_beside_debians_own_nginx_conf(tmp_path):
    """Installed as the README says, next to Debian's defaults (which set TLS and logs in
    the http block too): nothing clashes."""
    make_certificate(tmp_path)
    site = site_config(tmp_path, upstream=8000, https_port=8443, http_port=8080)
    result = checked_beside_debians_defaults(tmp_path, site)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@on_sqlite
def test_with_proxy_count_1_the_portal_sees_the_address_nginx_saw(database_url):
    with portal_behind_nginx(
        database_url, "203.0.113.7", PROXY_COUNT="1", API_RATE_LIMIT="2 per day"
    ) as (app, nginx, _):
        first, second = Visitor(nginx, "127.0.0.2"), Visitor(nginx, "127.0.0.3")
        # nginx replaces whatever X-Forwarded-For the client sent.
        assert "Check your inbox" in first.submit("a@example.com", "203.0.113.7", **FORGED).text
        assert submitted_from(app) == ["127.0.0.2"]

        # Each client has its own lookup budget.
        assert [first.get(LOOKUP, **FORGED).status for _ in range(3)] == [200, 200, 429]
        assert second.get(LOOKUP).status == 200


@on_sqlite
def test_with_proxy_count_0_behind_nginx_every_client_is_nginx(database_url):
    """What the README warns of: one client address, so one budget, for everyone."""
    with portal_behind_nginx(
        database_url, "203.0.113.7", PROXY_COUNT="0", API_RATE_LIMIT="2 per day"
    ) as (app, nginx, _):
        first, second = Visitor(nginx, "127.0.0.2"), Visitor(nginx, "127.0.0.3")
        first.submit("a@example.com", "203.0.113.7")
        assert submitted_from(app) == ["127.0.0.1"]

        assert [first.get(LOOKUP).status for _ in range(2)] == [200, 200]
        assert second.get(LOOKUP).status == 429  # the first client used up everyone's budget


@on_sqlite
def test_over_https_pages_carry_hsts_and_secure_cookies_and_http_redirects(database_url):
    with portal_behind_nginx(database_url, PROXY_COUNT="1") as (_, nginx, _):
        page = Visitor(nginx, "127.0.0.2").get("/")
        assert page.status == 200
        assert page.headers["Strict-Transport-Security"] == HSTS
        cookies = page.headers.get_all("Set-Cookie")
        assert cookies and all("; Secure" in cookie for cookie in cookies), cookies

        plain = http.client.HTTPConnection("127.0.0.1", nginx.http_port, timeout=10)
        plain.request("GET", "/help?x=1", headers={"Host": HOST})
        redirect = plain.getresponse()
        assert redirect.status == 301
        assert redirect.headers["Location"] == f"https://{HOST}/help?x=1"
        plain.close()


@on_sqlite
def test_nginx_serves_static_files_itself(database_url):
    with portal_behind_nginx(database_url, PROXY_COUNT="1") as (_, nginx, _):
        style = Visitor(nginx, "127.0.0.2").get("/static/style.css")
        assert style.status == 200
        assert style.text == (PROJECT_ROOT / "static" / "style.css").read_text()
        assert style.headers["Strict-Transport-Security"] == HSTS
        assert style.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in style.headers  # the app adds it to all it sends
        [line] = [line for line in nginx.access_log().splitlines() if "/static/" in line]
        assert "upstream=- " in line  # no upstream: gunicorn never saw it


@on_sqlite
def test_the_public_site_never_passes_metrics_to_the_portal(database_url):
    with portal_behind_nginx(database_url, PROXY_COUNT="1") as (_, nginx, _):
        visitor = Visitor(nginx, "127.0.0.1")  # an address METRICS_ALLOW would let in
        assert visitor.get("/metrics").status == 404
        [line] = [line for line in nginx.access_log().splitlines() if "/metrics" in line]
        assert "upstream=- " in line  # gunicorn never saw it


@on_sqlite
def test_nginx_stops_large_bodies_except_the_admin_import(database_url):
    with portal_behind_nginx(database_url, PROXY_COUNT="1") as (_, nginx, _):
        visitor = Visitor(nginx, "127.0.0.2")
        big = {"email": "a@example.com", "ip": "x" * 2_000_000}
        refused = visitor.request("POST", "/", big)
        assert refused.status == 413 and "<center>nginx</center>" in refused.text
        # The import's larger limit lets the file reach the app, which asks for a sign-in.
        upload = visitor.request("POST", "/admin/import", big)
        assert upload.status != 413 and "nginx" not in upload.text, upload.text[:300]


@on_sqlite
def test_confirmation_tokens_never_reach_the_access_log(database_url):
    with portal_behind_nginx(database_url, "203.0.113.7", PROXY_COUNT="1") as (app, nginx, sink):
        visitor = Visitor(nginx, "127.0.0.2")
        visitor.submit("a@example.com", "203.0.113.7")
        run_worker(app)
        [message] = sink.messages
        text = message.get_body(preferencelist=("plain",)).get_content()
        link = re.search(rf"https://{re.escape(HOST)}:\d+/confirm/[A-Za-z0-9_.\-]+", text)
        assert link, text
        path = urlsplit(link.group()).path
        token = path.rsplit("/", 1)[1]

        page = visitor.get(path)
        assert page.status == 200 and "Delist IP" in page.text
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        for asset in assets:
            assert visitor.get(asset, Referer=link.group()).status == 200
        pressed = visitor.request(
            "POST", path, {"csrf_token": csrf_token(page.text)}, Referer=link.group()
        )
        assert pressed.status == 303, pressed.text[:300]
        status_page = visitor.get(urlsplit(pressed.headers["Location"]).path, Referer=link.group())
        assert status_page.status == 200
        # Other spellings of the link (each reaches the app, or shows its token).
        for spelling in (
            "//confirm//",
            "/%63onfirm/",
            "/confirm%2F",
            "/CONFIRM/",
            "/?next=/confirm/",
        ):
            visitor.get(spelling + token)

        log = nginx.access_log()
        assert token[:16] not in log
        assert log.count('"GET /confirm/[redacted] HTTP/1.1"') == 5  # the link, four spellings
        assert '"POST /confirm/[redacted] HTTP/1.1" 303' in log
        assert '"GET [redacted] HTTP/1.1"' in log  # the link in a query
        # Referer: the static files, the press, the status page.
        assert log.count('"[redacted]"') == len(assets) + 2
        assert '"GET /static/style.css HTTP/1.1" 200' in log  # other lines stay readable
