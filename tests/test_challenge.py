"""The form's proof-of-work challenge: solved once, then spent; everything else refused."""

import base64
import html
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from altcha import solve_challenge_v1
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli import worker
from app.core.clock import utcnow
from app.extensions import db
from app.models import DelistRequest, OutboxMessage, SpentChallenge
from tests.helpers import T0, add_listings, csrf_token, page_text, run_at_once

CHALLENGE_RE = re.compile(r"data-challenge='([^']+)'")


@pytest.fixture
def app_overrides():
    return {"CHALLENGE_ENABLED": True, "CHALLENGE_MAX_NUMBER": 1000, "RATELIMIT_ENABLED": False}


@pytest.fixture
def listed(app):
    add_listings(app, "203.0.113.7")


def page_challenge(page_html: str) -> dict:
    return json.loads(html.unescape(CHALLENGE_RE.search(page_html).group(1)))


def solution(challenge: dict, number: int | None = None) -> str:
    """What the browser's solver sends: the found number with the signed challenge."""
    if number is None:
        number = solve_challenge_v1(
            challenge["challenge"], challenge["salt"], "SHA-256", challenge["maxnumber"]
        ).number
    data = {key: challenge[key] for key in ("algorithm", "challenge", "salt", "signature")}
    return base64.b64encode(json.dumps({**data, "number": number}).encode()).decode()


def load_form(client):
    page = client.get("/")
    return csrf_token(page.text), page_challenge(page.text)


def send(client, token: str, payload: str | None, ip="203.0.113.7", email="s@example.com"):
    data = {"csrf_token": token, "email": email, "ip": ip}
    if payload is not None:
        data["altcha"] = payload
    return client.post("/", data=data)


def stored(app) -> tuple[int, int]:
    with app.app_context():
        requests = db.session.scalar(sa.select(sa.func.count()).select_from(DelistRequest))
        mails = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    return requests, mails


def test_the_form_carries_a_signed_challenge_and_the_solver_script(client):
    page = client.get("/")
    challenge = page_challenge(page.text)
    assert challenge["algorithm"] == "SHA-256"
    assert challenge["maxnumber"] == 1000
    assert re.fullmatch(r"[0-9a-f]{64}", challenge["challenge"])
    assert "expires=" in challenge["salt"]
    assert '<script src="/static/challenge.js" defer></script>' in page.text
    assert "<noscript>" in page.text and "Turn on JavaScript" in page_text(page)
    assert page_challenge(client.get("/").text)["salt"] != challenge["salt"]  # fresh each time
    with client.get("/static/challenge.js") as script:
        assert script.status_code == 200 and "crypto.subtle.digest" in script.text


def test_a_solved_challenge_is_accepted_once(app, client, listed):
    token, challenge = load_form(client)
    payload = solution(challenge)
    first = send(client, token, payload)
    assert first.status_code == 200 and "Check your inbox" in page_text(first)
    assert stored(app) == (1, 1)

    again = send(client, token, payload, ip="203.0.113.7", email="other@example.com")
    assert again.status_code == 400
    assert "The automatic check did not pass" in page_text(again)
    assert stored(app) == (1, 1)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "The automatic check did not run"),
        ("", "The automatic check did not run"),
        ("not base64 at all!", "did not pass"),
        (base64.b64encode(b"\xff\xfe").decode(), "did not pass"),
        (base64.b64encode(b"[1, 2]").decode(), "did not pass"),
        (base64.b64encode(b"42").decode(), "did not pass"),
        (base64.b64encode(b'{"number": "1"}').decode(), "did not pass"),
        ("A" * 5000, "did not pass"),
    ],
)
def test_a_missing_or_malformed_solution_is_refused_next_to_the_button(
    app, client, listed, payload, message
):
    token, _ = load_form(client)
    response = send(client, token, payload)
    assert response.status_code == 400
    text = page_text(response)
    assert message in text
    assert 'value="s@example.com"' in response.text  # what was typed is kept
    assert 'aria-describedby="challenge-status challenge-error"' in response.text
    assert stored(app) == (0, 0)


def test_a_wrong_number_or_a_changed_field_is_refused(app, client, listed):
    token, challenge = load_form(client)
    right = json.loads(base64.b64decode(solution(challenge)))
    wrong_number = solution(challenge, number=(right["number"] + 1) % 1001)
    assert send(client, token, wrong_number).status_code == 400

    for field, value in [
        ("signature", "0" * 64),
        ("salt", challenge["salt"].replace("expires=", "expires=9")),
        ("algorithm", "SHA-1"),
    ]:
        forged = base64.b64encode(json.dumps({**right, field: value}).encode()).decode()
        assert send(client, token, forged).status_code == 400, field
    assert stored(app) == (0, 0)


def test_a_challenge_signed_with_another_key_is_refused(app, client, listed, database_url):
    from app import create_app
    from tests.helpers import BASE_CONFIG

    other = create_app(
        {
            **BASE_CONFIG,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "another-secret-key-0123456789abcdef",
            "CHALLENGE_ENABLED": True,
            "CHALLENGE_MAX_NUMBER": 1000,
        }
    )
    foreign = page_challenge(other.test_client().get("/").text)
    token, _ = load_form(client)
    assert send(client, token, solution(foreign)).status_code == 400
    assert stored(app) == (0, 0)


def test_an_expired_challenge_is_refused_and_the_next_one_works(app, client, listed, time_machine):
    token, challenge = load_form(client)
    payload = solution(challenge)
    time_machine.move_to(T0 + timedelta(minutes=21))
    response = send(client, token, payload)
    assert response.status_code == 400
    assert "The automatic check has expired" in page_text(response)
    assert send(client, token, solution(page_challenge(response.text))).status_code == 200


def test_form_errors_leave_the_solution_unspent(app, client, listed):
    token, challenge = load_form(client)
    payload = solution(challenge)
    assert send(client, token, payload, email="not an address").status_code == 400
    assert send(client, token, payload).status_code == 200


def test_the_worker_forgets_spent_challenges_once_they_expire(app, client, listed, time_machine):
    token, challenge = load_form(client)
    send(client, token, solution(challenge))
    with app.app_context():
        worker.run_once(utcnow())
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SpentChallenge)) == 1
    time_machine.move_to(T0 + timedelta(minutes=21))
    with app.app_context():
        worker.run_once(utcnow())
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SpentChallenge)) == 0


def test_a_form_left_open_can_fetch_a_new_challenge(client):
    response = client.get("/challenge")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert set(response.json) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}


def test_without_the_challenge_there_is_no_script_and_no_challenge_url(app, client):
    app.config["CHALLENGE_ENABLED"] = False
    page = client.get("/")
    assert "challenge.js" not in page.text and "data-challenge" not in page.text
    assert client.get("/challenge").status_code == 404


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["algorithm", "challenge", "number", "salt", "signature", "x"]),
            children,
        )
    ),
    max_leaves=8,
)
payloads = st.one_of(
    st.text(max_size=200),
    json_values.map(lambda value: base64.b64encode(json.dumps(value).encode()).decode()),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=payloads)
def test_any_payload_is_refused_cleanly(app, client, listed, payload):
    token, _ = load_form(client)
    response = send(client, token, payload)
    assert response.status_code == 400
    assert stored(app) == (0, 0)


def test_answers_spent_by_racing_submissions_stay_spent(app, listed):
    """Submissions racing for one IP: the loser follows the winner, and keeps its answer spent."""
    clients = [app.test_client() for _ in range(4)]
    forms = [load_form(c) for c in clients]
    payloads = [solution(challenge) for _, challenge in forms]

    def race(c, token, payload, n):
        return send(c, token, payload, email=f"s{n}@example.com").status_code

    arguments = [
        (c, token, payload, n)
        for n, (c, (token, _), payload) in enumerate(zip(clients, forms, payloads, strict=True))
    ]
    statuses = run_at_once(race, arguments)
    assert all(status in (200, 429) for status in statuses), statuses
    assert stored(app)[0] == 1
    for c, (token, _), payload in zip(clients, forms, payloads, strict=True):
        again = send(c, token, payload, ip="203.0.113.7", email="late@example.com")
        assert again.status_code == 400, "an answer was accepted twice"
        assert "The automatic check did not pass" in page_text(again)
