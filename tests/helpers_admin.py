"""Signing in as an operator, for the admin page tests."""

import io
import re
from html.parser import HTMLParser

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


class _ChartReader(HTMLParser):
    """Collects each chart's table (by its caption) and its SVG's markup from a page."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: str | None = None
        self._cell: list[str] | None = None
        self._rows: list[list[str]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._rows = []
        elif tag == "caption":
            self._caption = ""
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table" and self._caption is not None:
            self.tables[self._caption] = self._rows
            self._caption = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._caption is not None and self.lasttag == "caption":
            self._caption += data.strip()


def chart_tables(html: str) -> dict[str, dict[str, dict[str, str]]]:
    """{chart title: {period: {column: value}}} from the dashboard's chart tables."""
    tables = {}
    for caption, rows in _ChartReader(html).tables.items():
        header, *body = rows
        tables[caption] = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in body}
    return tables


def chart_svgs(html: str) -> list[str]:
    """The markup of every inline SVG on a page."""
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)
