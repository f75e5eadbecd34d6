"""Security headers on every page, cookies, trusted hosts, proxies, body size, log redaction."""

import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import sqlalchemy as sa

import config
from app.core.redaction import RedactConfirmTokens, redact
from app.extensions import db
from app.models import AuditEvent
from tests.helpers import add_listings, csrf_token, free_port, submit_form


def pages(app):
    """A URL for every GET route; parts of the path are filled with harmless values."""
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint != "static":
            yield re.sub(r"<int:\w+>", "1", re.sub(r"<(?:path:)?(\w+)>", r"x\1", rule.rule))


def test_every_page_has_the_security_headers(app, client):
    urls = list(pages(app))
    assert "/" in urls and "/admin/login" in urls and "/api/v1/openapi.json" in urls
    for url in urls:
        headers = client.get(url).headers
        csp = headers.get("Content-Security-Policy", "")
        for directive in (
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "script-src 'self'",
        ):
            assert directive in csp, url
        assert "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] == "same-origin", url
        assert "Strict-Transport-Security" not in headers, url  # plain HTTP here


def test_hsts_and_secure_cookies_over_https(app):
    client = app.test_client()
    response = client.get("/", base_url="https://delist.example.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # PUBLIC_BASE_URL is https in the tests


@pytest.mark.parametrize("app_overrides", [{"TRUSTED_HOSTS": ["delist.example.test"]}])
def test_unknown_host_headers_are_refused(app):
    client = app.test_client()
    assert client.get("/", base_url="https://delist.example.test").status_code == 200
    assert client.get("/", base_url="https://evil.example.org").status_code == 400


def submitted_from(app):
    with app.app_context():
        return db.session.scalar(
            sa.select(AuditEvent.client_address).where(AuditEvent.action == "request.submitted")
        )


@pytest.mark.parametrize("app_overrides", [{"PROXY_COUNT": 1}])
def test_behind_one_proxy_the_forwarded_client_address_counts(app, client):
    add_listings(app, "203.0.113.7")
    submit_form(client, "a@example.com", "203.0.113.7", **{"X-Forwarded-For": "198.51.100.23"})
    assert submitted_from(app) == "198.51.100.23"


def test_without_a_proxy_forwarded_headers_are_ignored(app, client):
    add_listings(app, "203.0.113.7")
    submit_form(client, "a@example.com", "203.0.113.7", **{"X-Forwarded-For": "198.51.100.23"})
    assert submitted_from(app) == "127.0.0.1"


def test_oversized_posts_get_a_clear_413(client):
    response = client.post("/", data={"email": "a@example.com", "ip": "x" * 100_000})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_log_lines_never_show_a_confirmation_token(caplog):
    assert redact('"GET /confirm/WzEsIm.abc-_x HTTP/1.1" 200') == (
        '"GET /confirm/[redacted] HTTP/1.1" 200'
    )
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        "",
        0,
        '"%s" %s',
        ("GET /confirm/secret.token HTTP/1.1", 200),
        None,
    )
    RedactConfirmTokens().filter(record)
    assert "secret.token" not in record.getMessage()


@pytest.mark.parametrize(
    "path",
    [
        "/confirm/SECRET.tok-en",
        "/confirm//SECRET.tok-en",
        "/confirm%2FSECRET.tok-en",
        "/confirm%2fSECRET.tok-en",
        "/%63onfirm/SECRET.tok-en",
        "/confirm%252FSECRET.tok-en",
        "/confirm/SECRET.tok-en?x=1",
        "/CONFIRM/SECRET.tok-en",
    ],
)
def test_every_spelling_of_a_confirmation_path_is_redacted(path):
    line = f'127.0.0.1 "GET {path} HTTP/1.1" 200'
    assert "SECRET" not in redact(line)
    assert "[redacted]" in redact(line)


def test_lines_without_a_token_are_left_alone():
    for line in ('"GET /help HTTP/1.1" 200', '"GET /?ip=%20203.0.113.7 HTTP/1.1"', "no path"):
        assert redact(line) == line


def test_gunicorn_access_log_is_redacted(tmp_path):
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "SECRET_KEY": "x" * 40,
        "PUBLIC_BASE_URL": "https://delist.example.test",
        "DATABASE_URL": f"sqlite:///{tmp_path}/g.sqlite3",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(log),
            "wsgi:app",
        ],
        cwd=config.PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        for path in ("/confirm/very.secret-token", "/confirm//very.secret-token"):
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
                except urllib.error.HTTPError:
                    break  # 404/500 is fine: we only look at the access log
                except OSError:
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.3)
                    continue
                break
        # An encoded slash, sent as is (urllib would not keep the path as written).
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"GET /confirm%2Fvery.secret-token HTTP/1.0\r\nHost: x\r\n\r\n")
            raw.recv(1024)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert "/confirm/[redacted]" in text
    assert "very.secret-token" not in text


@pytest.mark.parametrize(
    "url",
    [
        "/requests/abc%00def",
        "/lookup?ip=1.2.3.4%00",
        "/lookup?x=1&ip=ok&ip=%00",
        "/api/v1/lookup/%00",
    ],
)
def test_nul_characters_are_refused_before_reaching_the_database(client, url):
    assert client.get(url).status_code == 400


def test_nul_characters_in_a_form_are_refused(client):
    page = client.get("/")
    response = client.post(
        "/",
        data={
            "csrf_token": csrf_token(page.text),
            "email": "a@example.com\x00",
            "ip": "203.0.113.7",
        },
    )
    assert response.status_code == 400


BAD_HOSTS = [
    "a" * 64 + ".example.net",  # a label over 63 bytes: no URL can be built for it
    "a" * 64,
    "delist..example.net",
    "bad host",
    "delist.example.net:99999",
    "[::1",
    "[not-ipv6]",
    "",
]
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")


def assert_bad_host_page(response):
    assert response.status_code == 400
    for name in SECURITY_HEADERS:
        assert name in response.headers, name
    if response.request.path.startswith("/api/"):
        assert response.json["error"] == "bad_request"
    else:
        assert response.mimetype == "text/html"
        assert "We could not understand this request." in response.text
        assert "a" * 64 not in response.text  # links are ours, not built from the Host header


@pytest.mark.parametrize("host", BAD_HOSTS)
@pytest.mark.parametrize("path", ["/", "/help", "/admin/login", "/nowhere", "/api/v1/lookup/x"])
def test_a_bad_host_header_gets_our_400_page_with_the_security_headers(bare_app, host, path):
    assert bare_app.config["TRUSTED_HOSTS"] is None  # the default: any well-formed host
    assert_bad_host_page(bare_app.test_client().get(path, headers={"Host": host}))


@pytest.mark.parametrize(
    "host", ["delist.example.net", "delist.example.net.", "127.0.0.1:5000", "[2001:db8::1]:8443"]
)
def test_well_formed_hosts_are_served_when_any_host_is_trusted(bare_app, host):
    assert bare_app.test_client().get("/help", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example.org", "a" * 64 + ".example.net"])
@pytest.mark.parametrize("path", ["/", "/admin/login", "/api/v1/lookup/x"])
def test_a_host_outside_trusted_hosts_gets_our_400_page(tmp_path, host, path):
    from app import create_app
    from tests.helpers import BASE_CONFIG

    app = create_app(
        {
            **BASE_CONFIG,
            "DATABASE_URL": f"sqlite:///{tmp_path}/unused.db",
            "TRUSTED_HOSTS": ["delist.example.test"],
        }
    )
    client = app.test_client()
    assert_bad_host_page(client.get(path, headers={"Host": host}))
    assert_bad_host_page(client.post(path, headers={"Host": host}))
    assert client.get("/help", headers={"Host": "delist.example.test"}).status_code == 200
