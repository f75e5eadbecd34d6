"""Operator accounts and sign-in: argon2id, lockout, TOTP, sessions that really end, roles."""

import re
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from app.abuse import challenge
from app.accounts import operators, signin
from app.admin.access import PUBLIC_ENDPOINTS
from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.models import AuditEvent, Operator
from tests.helpers import T0, csrf_token, page_text
from tests.test_challenge import page_challenge, solution

PASSWORD = "correct-horse-battery"


@pytest.fixture
def make_operator(app):
    def make(email="admin@example.net", role="admin", totp=False, password=PASSWORD):
        with app.app_context():
            operator = operators.create(email, password, role, actor=Actor("test"), now=utcnow())
            secret = None
            if totp:
                operators.enable_totp(operator, actor=Actor("test"), now=utcnow())
                secret = operator.totp_secret
            db.session.commit()
            return secret

    return make


def sign_in(client, email="admin@example.net", password=PASSWORD, next_page=""):
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_token(page.text),
            "email": email,
            "password": password,
            "next": next_page,
        },
    )


def events(app, action):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


def test_cli_creates_operators_with_argon2id_and_no_default_account(app, runner):
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Operator)) == 0
    result = runner.invoke(
        args=["operator", "create", "Ops@Example.net", "--role", "admin", "--generate"]
    )
    assert result.exit_code == 0, result.output
    password = result.output.split("password: ")[1].strip()
    result = runner.invoke(
        args=["operator", "create", "viewer@example.net"],
        input="a-long-passphrase\na-long-passphrase\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        operator = operators.find("ops@example.net")
        assert operator.password_hash.startswith("$argon2id$")
        assert operators.authenticate("ops@example.net", password) is not None
        assert operators.find("viewer@example.net").role == "viewer"
    listing = runner.invoke(args=["operator", "list"]).output
    assert "ops@example.net\tadmin\tactive" in listing


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["operator", "create", "x@example.net"], "short\nshort\n", "at least 12 characters"),
        (
            ["operator", "create", "x@example.net"],
            "long-enough-one\nanother-one-xx\n",
            "do not match",
        ),
        (["operator", "create", "x@example.net", "--role", "root"], "", "Invalid value"),
        (["operator", "create", "not-an-email", "--generate"], "", "not an email address"),
        (["operator", "disable", "nobody@example.net"], "", "no operator nobody@example.net"),
        (["operator", "set-password", "nobody@example.net", "--generate"], "", "no operator"),
    ],
)
def test_cli_refuses_bad_input_clearly(runner, args, stdin, message):
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_sign_in_and_out(app, client, make_operator):
    make_operator()
    response = sign_in(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"
    assert "Dashboard" in page_text(client.get("/admin/"))
    assert len(events(app, "operator.login")) == 1

    page = client.get("/admin/")
    stolen = client.get_cookie("session").value
    assert (
        client.post("/admin/logout", data={"csrf_token": csrf_token(page.text)}).status_code == 303
    )
    assert client.get("/admin/").status_code == 302
    # A copy of the old session cookie no longer works either.
    client.set_cookie("session", stolen)
    assert client.get("/admin/").status_code == 302


def test_wrong_password_or_unknown_account_is_refused_alike(app, client, make_operator):
    make_operator()
    for email, password in (
        ("admin@example.net", "wrong-password-1"),
        ("who@example.net", PASSWORD),
    ):
        response = sign_in(client, email, password)
        assert response.status_code == 401
        assert "The email address or the password is not right." in page_text(response)
    assert len(events(app, "operator.login_failed")) == 2


def test_disabled_operator_cannot_sign_in_and_loses_the_session(app, client, make_operator):
    make_operator()
    sign_in(client)
    with app.app_context():
        operators.disable(operators.get("admin@example.net"), actor=Actor("t"), now=utcnow())
        db.session.commit()
    assert client.get("/admin/").status_code == 302
    assert sign_in(client).status_code == 401


def from_address(app, address):
    """A test client whose requests come from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def attack(app, email="admin@example.net", count=12):
    """`count` wrong passwords for `email`, each from another address."""
    for n in range(count):
        response = sign_in(from_address(app, f"198.51.100.{n + 1}"), email, "wrong-password-1")
        assert response.status_code == 401


def sign_in_with_proof(client, email="admin@example.net", password=PASSWORD, payload=None):
    """Sign in as a browser does when the account needs a proof of work: the first answer
    asks for it, the browser solves the challenge and sends the form again."""
    asked = sign_in(client, email, password)
    assert asked.status_code == 401
    assert "many failed sign-ins" in page_text(asked)
    challenge = page_challenge(asked.text)
    return client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_token(asked.text),
            "email": email,
            "password": password,
            "altcha": payload or solution(challenge),
        },
    )


ATTACKED = {"ADMIN_LOGIN_CHALLENGE_MAX_NUMBER": 1000}


@pytest.mark.parametrize("app_overrides", [ATTACKED])
def test_wrong_passwords_from_many_addresses_do_not_lock_the_operator_out(app, make_operator):
    make_operator()
    office = from_address(app, "203.0.113.50")
    assert sign_in(office).status_code == 303  # signed in from here before the attack
    attack(app)
    # The operator's usual address signs in as always, with the right password only.
    assert sign_in(from_address(app, "203.0.113.50")).status_code == 303
    # From anywhere else, the right password still works after a proof of work.
    response = sign_in_with_proof(from_address(app, "192.0.2.99"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("app_overrides", [ATTACKED])
def test_every_guess_at_an_attacked_account_costs_a_proof_of_work(app, make_operator):
    make_operator()
    attack(app, count=5)  # ADMIN_LOGIN_LIMIT_PER_ACCOUNT: 5 per 15 minutes
    guesser = from_address(app, "192.0.2.200")
    # Without a proof the password is not even checked, the right one included.
    asked = sign_in(guesser, password=PASSWORD)
    assert asked.status_code == 401
    assert "data-challenge=" in asked.text and "challenge.js" in asked.text
    assert guesser.get("/admin/").status_code == 302
    # A proof is good for one guess only.
    payload = solution(page_challenge(asked.text))
    first = sign_in_with_proof(guesser, password="wrong-password-2", payload=payload)
    assert "not right" in page_text(first)
    replayed = sign_in_with_proof(guesser, password=PASSWORD, payload=payload)
    assert "many failed sign-ins" in page_text(replayed)
    assert guesser.get("/admin/").status_code == 302
    # A solution of the public form's challenge does not count here.
    with app.test_request_context():
        public = challenge.new_challenge(utcnow(), max_number=1000)
    crossed = sign_in_with_proof(guesser, payload=solution(public))
    assert "many failed sign-ins" in page_text(crossed)
    assert guesser.get("/admin/").status_code == 302


@pytest.mark.parametrize("app_overrides", [ATTACKED])
def test_an_unknown_account_answers_like_an_attacked_real_one(app, make_operator):
    make_operator()
    attack(app, "nobody@example.net", count=5)
    asked = sign_in(from_address(app, "192.0.2.7"), "nobody@example.net", "any-password-1")
    assert asked.status_code == 401
    assert "many failed sign-ins" in page_text(asked)
    # Other accounts are not affected.
    assert sign_in(from_address(app, "192.0.2.7")).status_code == 303


@pytest.mark.parametrize("app_overrides", [ATTACKED])
def test_the_login_page_can_fetch_a_new_sign_in_challenge(app, client):
    response = client.get("/admin/login/challenge")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json["maxnumber"] == 1000


@pytest.mark.parametrize("app_overrides", [{"ADMIN_LOGIN_LIMIT_PER_ADDRESS": "3 per 15 minutes"}])
def test_one_address_trying_many_accounts_is_limited(app, client, make_operator):
    make_operator()
    for n in range(3):
        assert sign_in(client, f"guess{n}@example.net", "wrong-password-1").status_code == 401
    assert sign_in(client).status_code == 429


def test_successful_sign_ins_do_not_count_towards_the_lockout(app, make_operator):
    make_operator()
    for _ in range(8):
        assert sign_in(app.test_client()).status_code == 303


def test_totp_is_required_when_enabled_and_a_code_works_once(app, client, make_operator):
    secret = make_operator(totp=True)
    response = sign_in(client)
    assert response.headers["Location"].startswith("/admin/login/totp")
    assert client.get("/admin/").status_code == 302  # the password alone is not enough
    page = client.get(response.headers["Location"])
    code = pyotp.TOTP(secret).at(T0)
    wrong = client.post(
        "/admin/login/totp", data={"csrf_token": csrf_token(page.text), "code": "000000"}
    )
    assert wrong.status_code == 401
    ok = client.post("/admin/login/totp", data={"csrf_token": csrf_token(page.text), "code": code})
    assert ok.status_code == 303
    assert client.get("/admin/").status_code == 200

    other = app.test_client()  # the same code cannot be used again
    sign_in(other)
    page = other.get("/admin/login/totp")
    replay = other.post(
        "/admin/login/totp", data={"csrf_token": csrf_token(page.text), "code": code}
    )
    assert replay.status_code == 401


def test_a_password_step_allows_five_codes_and_wrong_codes_count_for_the_account(
    app, client, make_operator
):
    make_operator(totp=True)
    sign_in(client)
    for _ in range(5):
        page = client.get("/admin/login/totp")
        wrong = client.post(
            "/admin/login/totp", data={"csrf_token": csrf_token(page.text), "code": "000000"}
        )
        assert wrong.status_code == 401
    again = client.get("/admin/login/totp")  # the password step is needed again
    assert again.status_code == 302
    assert again.headers["Location"] == "/admin/login"
    with app.test_request_context():
        assert signin.under_attack("admin@example.net")


def test_no_code_is_right_for_an_operator_without_a_second_factor(app, make_operator):
    make_operator()
    with app.app_context():
        operator = operators.get("admin@example.net")
        assert not operators.verify_totp(operator, "123456", utcnow())


def test_opening_the_second_step_page_never_signs_anyone_out(app, client, make_operator):
    make_operator()
    sign_in(client)
    assert client.get("/admin/login/totp").status_code == 302  # nothing to finish: the dashboard
    assert client.get("/admin/").status_code == 200
    assert client.head("/admin/login/totp").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_every_admin_response_is_kept_by_no_cache(app, client, make_operator):
    assert client.get("/admin/login").headers["Cache-Control"] == "no-store"
    assert client.get("/admin/").headers["Cache-Control"] == "no-store"  # the redirect too
    make_operator()
    sign_in(client)
    pages = [
        rule.rule for rule in admin_rules(app) if "GET" in rule.methods and "<" not in rule.rule
    ]
    assert "/admin/export.csv" in pages and "/admin/audit.csv" in pages
    for page in pages:
        response = client.get(page)
        assert response.headers.get("Cache-Control") == "no-store", page


def test_idle_and_absolute_session_timeouts(app, client, make_operator, time_machine):
    make_operator()
    sign_in(client)
    time_machine.move_to(T0 + timedelta(minutes=29))
    assert client.get("/admin/").status_code == 200
    time_machine.move_to(T0 + timedelta(minutes=29 + 31))
    assert client.get("/admin/").status_code == 302  # idle too long

    sign_in(client)
    start = T0 + timedelta(minutes=60)
    for minutes in range(20, 12 * 60, 20):  # active all the time
        time_machine.move_to(start + timedelta(minutes=minutes))
        assert client.get("/admin/").status_code == 200
    time_machine.move_to(start + timedelta(hours=12, minutes=1))
    assert client.get("/admin/").status_code == 302  # absolute limit


@pytest.mark.parametrize(
    ("next_page", "expected"),
    [
        ("/admin/", "/admin/"),
        ("https://evil.example.org/admin/", "/admin/"),
        ("//evil.example.org/admin/", "/admin/"),
        ("/admin//evil.example.org", "/admin/"),
        ("/portal-page", "/admin/"),
    ],
)
def test_next_only_leads_to_our_admin_pages(client, make_operator, next_page, expected):
    make_operator()
    assert sign_in(client, next_page=next_page).headers["Location"] == expected


def test_old_password_hashes_are_upgraded_on_sign_in(app, client, make_operator):
    make_operator()
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with app.app_context():
        operators.get("admin@example.net").password_hash = weak
        db.session.commit()
    assert sign_in(client).status_code == 303
    with app.app_context():
        assert operators.get("admin@example.net").password_hash != weak


def admin_rules(app):
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin")]


def concrete(rule) -> str:
    """A URL for the rule: numeric parts become 1 (the first record of each kind)."""
    return re.sub(r"<int:\w+>", "1", re.sub(r"<(?:string:)?(\w+)>", r"\1", rule.rule))


@pytest.fixture
def records(app):
    """One record of each kind, so that /admin/<kind>/1 pages exist."""
    with app.app_context():
        from app.listing import blocklist
        from app.listing.addresses import parse_network
        from app.models import DelistRequest

        listing = blocklist.add_listing(
            parse_network("203.0.113.7"), "spam", actor=Actor("t"), now=utcnow()
        ).listing
        db.session.add(
            DelistRequest(
                public_id="request-id-walk",
                email="s@example.org",
                ip="203.0.113.7",
                listing_id=listing.id,
                status="needs_review",
                locale="en",
                created_at=utcnow(),
            )
        )
        from app.abuse import reports

        reports.submit(
            "r@example.org",
            "Received: from x [198.51.100.9]",
            None,
            actor=Actor.public(None),
            locale="en",
            now=utcnow(),
        )
        db.session.commit()


def test_every_admin_url_refuses_anonymous_users(app, client):
    rules = admin_rules(app)
    assert len(rules) >= 4
    for rule in rules:
        if rule.endpoint in PUBLIC_ENDPOINTS:  # the sign-in steps
            continue
        url = concrete(rule)
        if "GET" in rule.methods:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/admin/login"), url
        if "POST" in rule.methods:
            assert client.post(url).status_code == 400, url  # no CSRF token: refused
            token = csrf_token(client.get("/admin/login").text)
            assert client.post(url, data={"csrf_token": token}).status_code == 401, url


def test_viewers_may_read_but_not_change_anything(app, client, make_operator, records):
    make_operator("viewer@example.net", role="viewer")
    sign_in(client, "viewer@example.net")
    token = csrf_token(client.get("/admin/").text)
    for rule in admin_rules(app):
        if rule.endpoint in {*PUBLIC_ENDPOINTS, "admin.logout"}:
            continue
        url = concrete(rule)
        if "GET" in rule.methods:
            assert client.get(url).status_code == 200, url
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
            response = client.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 403, url
