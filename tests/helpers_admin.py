"""Signing in as an operator, for the admin page tests."""

import io

from app.accounts import operators
from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from tests.helpers import csrf_token

PASSWORD = "correct-horse-battery"


def signed_in(app, role="admin", email=None):
    """A test client signed in as a new operator with `role`."""
    email = email or f"{role}@example.net"
    with app.app_context():
        if operators.find(email) is None:
            operators.create(email, PASSWORD, role, actor=Actor("test"), now=utcnow())
            db.session.commit()
    client = app.test_client()
    page = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": PASSWORD},
    )
    assert response.status_code == 303, response.text
    return client


def post_form(client, page_url, action_url, **data):
    """Post to `action_url` with the CSRF token from `page_url`."""
    page = client.get(page_url)
    return client.post(action_url, data={"csrf_token": csrf_token(page.text), **data})


def upload(client, data: bytes, reason: str = "feed", name: str = "feed.txt"):
    """Upload `data` as an import file through the admin page's form."""
    page = client.get("/admin/import")
    return client.post(
        "/admin/import",
        data={
            "csrf_token": csrf_token(page.text),
            "reason": reason,
            "file": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )
