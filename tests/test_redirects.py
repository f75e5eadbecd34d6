"""Every `next` goes back to a page of ours: nothing a browser could read as another site."""

import pytest

from app.accounts import operators
from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.web.redirects import safe_path
from tests.helpers import csrf_token
from tests.helpers_admin import PASSWORD

# Browsers drop tabs and newlines from URLs and read a backslash as a slash, so each of
# these would leave the site (or hide where it goes) if it reached a Location header.
ELSEWHERE = [
    "/\t/evil.example/phish",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0D%0A/evil.example",
    "/%5Cevil.example",
    "/%5c%5cevil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%252F%252Fevil.example",
    "%2F%2Fevil.example",
    "//evil.example/phish",
    "///evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "javascript:alert(1)",
    "evil.example/phish",
    "",
    None,
]


@pytest.mark.parametrize("target", ELSEWHERE)
def test_a_target_a_browser_could_read_as_another_site_gives_the_default(target):
    assert safe_path(target, "/home") == "/home"


@pytest.mark.parametrize(
    "target", ["/", "/help", "/requests/abcdefghijklmnop", "/lookup?ip=2001:db8::7"]
)
def test_a_path_of_ours_is_kept_as_it_is(target):
    assert safe_path(target, "/home") == target


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin/listings?q=192.0.2.0%2F24", "/admin/listings?q=192.0.2.0%2F24"),
        ("/admin/requests/7", "/admin/requests/7"),
        ("/help", "/admin/"),
        ("/administrators", "/admin/"),
        ("/admin/%2F%2Fevil.example", "/admin/"),
        ("/admin/\t/evil.example", "/admin/"),
    ],
)
def test_a_prefix_keeps_the_target_inside_one_part_of_the_site(target, expected):
    assert safe_path(target, "/admin/", under="/admin/") == expected


@pytest.mark.parametrize("target", ELSEWHERE[:-1])
def test_the_language_switch_never_leaves_the_site(client, target):
    response = client.post("/language", data={"lang": "ja", "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_the_language_switch_goes_back_to_the_page(client):
    response = client.post("/language", data={"lang": "ja", "next": "/lookup?ip=203.0.113.7"})
    assert response.headers["Location"] == "/lookup?ip=203.0.113.7"


@pytest.mark.parametrize(
    ("next_page", "expected"),
    [
        ("/admin/listings?q=192.0.2.0%2F24", "/admin/listings?q=192.0.2.0%2F24"),
        ("/admin/%2F%2Fevil.example", "/admin/"),
        ("/admin/%5C%5Cevil.example", "/admin/"),
        ("/admin/\t/evil.example", "/admin/"),
        ("/\t/evil.example/phish", "/admin/"),
    ],
)
def test_admin_sign_in_goes_on_only_to_an_admin_page(app, client, next_page, expected):
    with app.app_context():
        operators.create("admin@example.net", PASSWORD, "admin", actor=Actor("t"), now=utcnow())
        db.session.commit()
    page = client.get("/admin/login")
    data = {
        "csrf_token": csrf_token(page.text),
        "email": "admin@example.net",
        "password": PASSWORD,
        "next": next_page,
    }
    response = client.post("/admin/login", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == expected
