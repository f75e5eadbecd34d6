"""Property-based fuzzing of every form and query parameter: no 5xx, no stored garbage."""

import ipaddress
import urllib.parse

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.actor import Actor
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.models import DelistRequest
from tests.helpers import T0, csrf_token
from tests.helpers_admin import signed_in

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text that looks a bit like what people type, plus anything at all.
typed = st.one_of(
    st.text(max_size=300),
    st.from_regex(r"\[?[0-9a-fA-F:.]{0,45}\]?(/[0-9]{1,3})?", fullmatch=True),
    st.tuples(st.emails(), st.sampled_from(["", "\r\n", " ", "\x00", "\nBcc: x@y.z"])).map("".join),
)


@pytest.fixture
def listed(app):
    with app.app_context():
        blocklist.add_listing(parse_network("203.0.113.7"), "spam", actor=Actor("t"), now=T0)
        blocklist.add_listing(parse_network("192.0.2.0/24"), "botnet", actor=Actor("t"), now=T0)
        db.session.commit()


@FUZZ
@given(email=typed, ip=typed)
def test_the_form_never_fails_and_stores_only_valid_requests(app, client, listed, email, ip):
    page = client.get("/")
    response = client.post(
        "/", data={"csrf_token": csrf_token(page.text), "email": email, "ip": ip}
    )
    assert response.status_code < 500
    with app.app_context():
        for request in db.session.scalars(sa.select(DelistRequest)):
            assert str(ipaddress.ip_address(request.ip)) == request.ip
            assert "\n" not in request.email and "\r" not in request.email
            assert "@" in request.email


@FUZZ
@given(text=typed)
def test_lookups_never_fail(client, listed, text):
    quoted = urllib.parse.quote(text, safe="")
    for url in (
        f"/lookup?ip={quoted}",
        f"/api/v1/lookup/{quoted}",
        f"/requests/{quoted}",
        f"/confirm/{quoted}",
        f"/?ip={quoted}",
    ):
        assert client.get(url).status_code < 500, url


@FUZZ
@given(q=typed, state=st.text(max_size=20), after=st.text(max_size=20))
def test_admin_searches_never_fail(app, listed, q, state, after):
    admin = signed_in(app, "viewer")
    for url, params in (
        ("/admin/listings", {"q": q, "state": state, "after": after}),
        ("/admin/requests", {"q": q, "status": state, "after": after}),
        ("/admin/audit", {"actor": q, "action": state, "q": q, "after": after}),
        ("/admin/mail", {"status": state, "after": after}),
    ):
        assert admin.get(url, query_string=params).status_code < 500, (url, params)


@FUZZ
@given(email=typed, password=st.text(max_size=300))
def test_admin_sign_in_never_fails(client, email, password):
    page = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": password},
    )
    assert response.status_code in (400, 401, 429)
