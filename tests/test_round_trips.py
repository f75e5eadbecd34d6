"""Round trips to PostgreSQL on the sender's busiest paths, counted on the wire.

libpq's trace of each connection the request checks out shows every message; each round
trip ends with the server's ReadyForQuery. A submission reads once and writes once (the
request, its audit event and its mail in one statement; no BEGIN or COMMIT around it);
the Delist IP page reads twice (the request with its IP's removals, then the listing).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, DelistRequest, OutboxMessage
from tests.helpers import CONFIRM_LINK_RE, add_listings, csrf_token

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@contextmanager
def round_trips(app) -> Iterator[list[int]]:
    """Count the round trips of the connections checked out inside the block."""
    with app.app_context():
        engine = db.engine
    with tempfile.TemporaryFile("w+") as trace:
        yield from _traced(engine, trace)


def _traced(engine, trace) -> Iterator[list[int]]:
    def start(dbapi_connection, _record, _proxy):
        dbapi_connection.pgconn.trace(trace.fileno())

    def stop(dbapi_connection, _record):
        dbapi_connection.pgconn.untrace()

    sa.event.listen(engine, "checkout", start)
    sa.event.listen(engine, "checkin", stop)
    counted: list[int] = []
    try:
        yield counted
    finally:
        sa.event.remove(engine, "checkout", start)
        sa.event.remove(engine, "checkin", stop)
        trace.seek(0)
        lines = trace.read().splitlines()
        counted.append(sum("\tB\t" in line and "ReadyForQuery" in line for line in lines))


def _submit(client, ip: str, email: str):
    token = csrf_token(client.get("/").text)
    return client.post("/", data={"csrf_token": token, "email": email, "ip": ip})


def test_a_submission_takes_two_round_trips(app, client):
    add_listings(app, "203.0.113.7", "203.0.113.8")
    assert _submit(client, "203.0.113.8", "warm@example.com").status_code == 200  # warm up
    with round_trips(app) as counted:
        response = _submit(client, "203.0.113.7", "s@example.com")
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert counted == [2]
    with app.app_context():
        request = db.session.scalars(
            sa.select(DelistRequest).where(DelistRequest.ip == "203.0.113.7")
        ).one()
        assert (
            db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.request_id == request.id))
            == 1
        )
        mail = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.request_id == request.id)
        ).one()
        assert mail.secret and mail.secret in mail.body_text


def test_the_delist_page_takes_two_round_trips(app, client):
    add_listings(app, "203.0.113.7")
    _submit(client, "203.0.113.7", "s@example.com")
    with app.app_context():
        body = db.session.scalar(sa.select(OutboxMessage.body_text))
    path = CONFIRM_LINK_RE.search(body).group(0).removeprefix("https://delist.example.test")
    assert client.get(path).status_code == 200  # warm up
    with round_trips(app) as counted:
        page = client.get(path)
    assert page.status_code == 200 and "Delist IP" in page.text
    assert counted == [2]


def test_a_submission_that_is_refused_reads_once(app, client):
    add_listings(app, "203.0.113.8")
    _submit(client, "203.0.113.8", "warm@example.com")
    with round_trips(app) as counted:
        response = _submit(client, "198.51.100.1", "s@example.com")
    assert "is not on our list" in response.text
    assert counted[0] <= 1


@pytest.mark.parametrize("app_overrides", [{"MAIL_PER_RECIPIENT_PER_DAY": 1}])
def test_the_ids_taken_ahead_leave_no_gaps(app, client):
    """The read takes a new request's id only when a request may open: a range's review
    request uses it, and a mailbox out of mail for the day takes none."""
    add_listings(app, "192.0.2.0/24", "203.0.113.7", "203.0.113.8", "203.0.113.9")
    _submit(client, "192.0.2.55", "range@example.com")  # review: id 1
    _submit(client, "203.0.113.7", "s@example.com")  # mail: id 2
    capped = _submit(client, "203.0.113.8", "s@example.com")  # no mail left: no request
    assert capped.status_code == 429
    _submit(client, "203.0.113.9", "other@example.com")  # id 3
    with app.app_context():
        ids = db.session.scalars(sa.select(DelistRequest.id).order_by(DelistRequest.id)).all()
    assert ids == [1, 2, 3]
