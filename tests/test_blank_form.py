"""The blank form, rendered once per language: the same page as a full render, per visitor."""

import re

import pytest

from tests.helpers import csrf_token, page_text

TOKEN_RE = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]+"')
CHALLENGE_RE = re.compile(r"data-challenge='[^']+'")


def normalised(html: str) -> str:
    return CHALLENGE_RE.sub("data-challenge='…'", TOKEN_RE.sub(r'\1…"', html))


@pytest.mark.parametrize("challenge_on", [False, True])
@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_kept_page_is_the_full_render_with_this_visitors_values(
    app, client, language, challenge_on
):
    app.config["CHALLENGE_ENABLED"] = challenge_on
    headers = {"Accept-Language": language}
    kept = [client.get("/", headers=headers).text for _ in range(2)]
    app.jinja_env.auto_reload = True  # as in development: every page rendered in full
    full = client.get("/", headers=headers).text
    assert normalised(kept[0]) == normalised(kept[1]) == normalised(full)
    if challenge_on:
        challenges = {CHALLENGE_RE.search(page).group(0) for page in (*kept, full)}
        assert len(challenges) == 3  # a fresh challenge for every visitor
    assert "blank-form" not in "".join(kept)


def test_each_visitor_gets_a_token_for_their_own_session(app, client):
    from tests.helpers import add_listings

    add_listings(app, "203.0.113.7")
    other = app.test_client()
    mine, theirs = csrf_token(client.get("/").text), csrf_token(other.get("/").text)
    assert mine != theirs
    data = {"email": "s@example.com", "ip": "203.0.113.7"}
    assert client.post("/", data={**data, "csrf_token": theirs}).status_code == 400
    response = client.post("/", data={**data, "csrf_token": mine})
    assert "Check your inbox" in page_text(response)


def test_a_flashed_message_is_not_lost_to_the_kept_page(app, client):
    client.get("/")  # the blank page is now kept
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "A message for this visitor")]
    assert "A message for this visitor" in client.get("/").text
