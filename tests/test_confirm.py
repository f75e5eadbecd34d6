"""GET /confirm/<token> shows the Delist IP page; POST consumes the link once."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from app.core.actor import Actor
from app.delisting.tokens import CONFIRM_SALT
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.models import AuditEvent, DelistRequest, Listing, OutboxMessage
from tests.helpers import (
    CONFIRM_LINK_RE,
    T0,
    csrf_token,
    page_text,
    press_delist,
    run_at_once,
    submit_form,
)


@pytest.fixture
def link(app, client):
    """Submit a request for a listed IP and return the link from its queued mail."""
    with app.app_context():
        blocklist.add_listing(
            parse_network("203.0.113.7"), "Sent spam to our users", actor=Actor("test"), now=T0
        )
        db.session.commit()
    submit_form(client, "sender@example.com", "203.0.113.7")
    return latest_link(app)


def latest_link(app) -> str:
    with app.app_context():
        message = db.session.scalars(
            sa.select(OutboxMessage).order_by(OutboxMessage.id.desc())
        ).first()
        return CONFIRM_LINK_RE.search(message.body_text).group(0)


def path(link: str) -> str:
    return link.removeprefix("https://delist.example.test")


def state(app):
    """What a delist changes: the listing's removal time and the audit trail size."""
    with app.app_context():
        listing = db.session.scalar(sa.select(Listing))
        events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        request = db.session.scalar(sa.select(DelistRequest))
        return listing.removal_effective_at, events, request.status


def test_delist_page_shows_the_listing_and_one_button(client, link):
    page = client.get(path(link))
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = page_text(page)
    assert "203.0.113.7" in text
    assert "Sent spam to our users" in text
    assert "Listed since" in text
    assert "listed again" in text
    main = page.text.split('<main id="main"', 1)[1]  # the header holds the language switch
    assert main.count('<form method="post"') == 1
    assert main.count('value="Delist IP"') == 1
    header = page.text.split('<main id="main"', 1)[0]
    # Switching language comes back here; the link travels in the POST body, not a URL.
    assert f'<input type="hidden" name="next" value="{path(link)}">' in header


def test_opening_the_link_changes_nothing(app, client, link):
    before = state(app)
    for _ in range(3):  # a mail scanner may fetch it several times
        assert client.get(path(link)).status_code == 200
        assert client.head(path(link)).status_code == 200
    assert state(app) == before
    assert before[0] is None


def test_pressing_delist_ip_schedules_the_removal_after_the_delay(app, client, link):
    response = press_delist(client, link)
    assert response.status_code == 303
    status_page = client.get(response.headers["Location"])
    assert "Removal scheduled" in page_text(status_page)
    removal_at, _, status = state(app)
    assert removal_at == T0 + timedelta(hours=1)
    assert status == "scheduled"


def test_pressing_again_shows_the_same_result_and_schedules_nothing_new(
    app, client, link, time_machine
):
    page = client.get(path(link))
    token = csrf_token(page.text)
    first = client.post(path(link), data={"csrf_token": token})
    after_first = state(app)
    time_machine.move_to(T0 + timedelta(minutes=10))
    second = client.post(path(link), data={"csrf_token": token})
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert state(app) == after_first


def test_used_link_opened_again_says_so_with_the_status_link(app, client, link):
    press_delist(client, link)
    page = client.get(path(link))
    assert page.status_code == 410
    assert "already been used" in page_text(page)
    assert "/requests/" in page.text


def test_post_without_csrf_token_schedules_nothing(app, client, link):
    before = state(app)
    response = client.post(path(link), data={})
    assert response.status_code == 400
    assert "press the button again" in page_text(response)
    assert state(app) == before


def tamper(token: str, position: int) -> str:
    char = token[position]
    return token[:position] + ("A" if char != "A" else "B") + token[position + 1 :]


@pytest.mark.parametrize("position", [0, 10, -1, -10])
def test_tampered_link_is_refused(app, client, link, position):
    token = path(link).removeprefix("/confirm/")
    page = client.get("/confirm/" + tamper(token, position))
    assert page.status_code == 404
    assert "not valid" in page_text(page)
    assert 'href="/"' in page.text  # a way to start again
    assert client.post("/confirm/" + tamper(token, position)).status_code in (400, 404)


@pytest.mark.parametrize("token", ["x", "abc.def.ghi", "a" * 600, "W10.aaaaaa.bbbbbb"])
def test_garbage_tokens_get_a_clear_page(client, token):
    page = client.get("/confirm/" + token)
    assert page.status_code == 404
    assert "not valid" in page_text(page)


def test_a_token_with_a_nul_character_is_refused_at_the_door(client):
    page = client.get("/confirm/abc%00def")
    assert page.status_code == 400
    assert "could not understand" in page_text(page)


def test_expired_link_is_refused_and_changes_nothing(app, client, link, time_machine):
    page = client.get(path(link))
    time_machine.move_to(T0 + timedelta(days=1, seconds=1))
    assert client.get(path(link)).status_code == 410
    response = client.post(path(link), data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 410
    assert "expired" in page_text(response)
    assert state(app)[0] is None


def test_token_for_another_request_is_refused(app, client, link):
    token = path(link).removeprefix("/confirm/")
    with app.app_context():
        blocklist.add_listing(parse_network("198.51.100.7"), "x", actor=Actor("t"), now=T0)
        db.session.commit()
        serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=CONFIRM_SALT)
        request_id, nonce = serializer.loads(token)
    submit_form(client, "other@example.com", "198.51.100.7")
    with app.app_context():
        forged = serializer.dumps([request_id + 1, nonce])
    assert client.get("/confirm/" + forged).status_code == 404


def test_token_made_for_another_purpose_is_refused(app, client, link):
    with app.app_context():
        serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="another-purpose")
        token = path(link).removeprefix("/confirm/")
        payload = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=CONFIRM_SALT).loads(token)
        assert client.get("/confirm/" + serializer.dumps(payload)).status_code == 404


def test_a_newer_link_replaces_the_older_one(app, client, link, time_machine):
    time_machine.move_to(T0 + timedelta(minutes=6))
    submit_form(client, "sender@example.com", "203.0.113.7")
    newer = latest_link(app)
    assert newer != link
    assert client.get(path(link)).status_code == 404
    assert client.get(path(newer)).status_code == 200


def test_link_signed_with_a_retired_key_works_while_it_is_a_fallback(app, client, link):
    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "the-new-secret-key-0123456789abcdef"
    assert client.get(path(link)).status_code == 200
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert client.get(path(link)).status_code == 404


def test_two_concurrent_presses_schedule_exactly_once(app, link):
    clients = [app.test_client() for _ in range(2)]
    tokens = [csrf_token(c.get(path(link)).text) for c in clients]

    def press(c, token):
        return c.post(path(link), data={"csrf_token": token}).status_code

    results = run_at_once(press, list(zip(clients, tokens, strict=True)))
    assert results == [303, 303]
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("request.confirmed") == 1
    assert actions.count("removal.scheduled") == 1


def test_confirming_after_an_operator_removed_the_listing_closes_the_request(app, client, link):
    page = client.get(path(link))
    with app.app_context():
        blocklist.remove_listing(parse_network("203.0.113.7"), actor=Actor("op"), now=T0)
        db.session.commit()
    response = client.post(path(link), data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert "Removed from the list" in page_text(client.get(response.headers["Location"]))
