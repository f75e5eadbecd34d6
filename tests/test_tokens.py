"""Confirmation links: a signed (request id, nonce) pair that expires."""

import base64
import hashlib
import random
import string
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from app import create_app
from app.delisting.tokens import (
    CONFIRM_SALT,
    ConfirmToken,
    TokenError,
    hash_nonce,
    new_nonce,
    read_confirmation,
    sign_confirmation,
)
from tests.helpers import BASE_CONFIG, T0

OLD_KEY = "retired-secret-key-0123456789abcdef"
NEW_KEY = "current-secret-key-0123456789abcdef"


@pytest.fixture
def signer(bare_app):
    """An app context to sign and read links in, at T0."""
    with bare_app.app_context():
        yield bare_app


def app_with_keys(tmp_path, key: str, *fallbacks: str):
    """An app that signs with `key` and also accepts links signed with `fallbacks`."""
    database = f"sqlite:///{tmp_path}/unused.db"
    keys = {"SECRET_KEY": key, "SECRET_KEY_FALLBACKS": list(fallbacks)}
    return create_app({**BASE_CONFIG, "DATABASE_URL": database, **keys})


def refusal(token: str) -> str:
    """Why `token` cannot be used."""
    with pytest.raises(TokenError) as refused:
        read_confirmation(token)
    return refused.value.reason


def signed(payload, salt: str = CONFIRM_SALT) -> str:
    """`payload` signed with the app's key, as only our own code should sign it."""
    from flask import current_app

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt).dumps(payload)


def link_of_length(length: int) -> tuple[str, ConfirmToken]:
    """A valid link exactly `length` characters long, and what it carries."""
    rng = random.Random(length)
    alphabet = string.ascii_letters + string.digits + "-_"
    for size in range(length // 2, length):
        nonce = "".join(rng.choices(alphabet, k=size))
        for request_id in (1, 10, 100, 1000, 10_000):
            token = sign_confirmation(request_id, nonce)
            if len(token) == length:
                return token, ConfirmToken(request_id, nonce)
    raise AssertionError(f"no link of {length} characters")


def test_a_signed_link_reads_back_as_its_request_and_nonce(signer):
    nonce = new_nonce()
    assert read_confirmation(sign_confirmation(42, nonce)) == ConfirmToken(42, nonce)


def test_request_one_is_a_valid_request(signer):
    assert read_confirmation(sign_confirmation(1, "n")) == ConfirmToken(1, "n")


def test_a_nonce_is_compared_by_its_sha256_hex_digest():
    nonce = new_nonce()
    digest = hashlib.sha256(nonce.encode()).hexdigest()
    assert hash_nonce(nonce) == digest
    assert ConfirmToken(7, nonce).nonce_hash == digest


def test_nonces_are_sixteen_random_url_safe_bytes():
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    for nonce in nonces:
        assert set(nonce) <= set(string.ascii_letters + string.digits + "-_")
        assert len(base64.urlsafe_b64decode(nonce + "==")) == 16


def test_a_link_works_until_it_is_as_old_as_the_configured_age(signer, time_machine):
    max_age = signer.config["CONFIRM_TOKEN_MAX_AGE_SECONDS"]
    time_machine.move_to(T0, tick=False)
    token = sign_confirmation(42, "n")
    time_machine.move_to(T0 + timedelta(seconds=max_age), tick=False)
    assert read_confirmation(token) == ConfirmToken(42, "n")
    time_machine.move_to(T0 + timedelta(seconds=max_age + 1), tick=False)
    assert refusal(token) == "expired"


def test_the_age_limit_follows_the_setting(bare_app, time_machine):
    bare_app.config["CONFIRM_TOKEN_MAX_AGE_SECONDS"] = 600
    with bare_app.app_context():
        time_machine.move_to(T0, tick=False)
        token = sign_confirmation(42, "n")
        time_machine.move_to(T0 + timedelta(seconds=601), tick=False)
        assert refusal(token) == "expired"


def test_a_changed_character_makes_a_link_invalid(signer, time_machine):
    time_machine.move_to(T0, tick=False)
    token = sign_confirmation(42, "n")
    # First characters of the payload and the signature: a last one may differ in padding bits only.
    for position in (0, token.rindex(".") + 1):
        changed = "A" if token[position] != "A" else "B"
        assert refusal(token[:position] + changed + token[position + 1 :]) == "invalid"


@pytest.mark.parametrize("token", ["", "x", "a.b.c", "é.é.é", ".eJzLSM3JyQcABiwCFQ.x.y", "ü" * 600])
def test_garbage_is_an_invalid_link(signer, token):
    assert refusal(token) == "invalid"


def test_a_link_of_512_characters_is_read(signer):
    token, carried = link_of_length(512)
    assert read_confirmation(token) == carried


def test_a_link_longer_than_512_characters_is_invalid_even_when_signed(signer):
    # 514, as no signed link is 513 long: a payload this long is compressed, and a compressed
    # payload gives a link whose length is 0, 2 or 3 more than a multiple of four.
    token, _ = link_of_length(514)
    assert refusal(token) == "invalid"


@pytest.mark.parametrize(
    "payload",
    [[0, "n"], [-1, "n"], [1, ""], ["1", "n"], [1, 2], [1], [1, "n", "x"], {"1": "n"}, "1:n", None],
)
def test_only_a_positive_request_id_and_a_nonce_make_a_valid_link(signer, payload):
    assert refusal(signed(payload)) == "invalid"


@pytest.mark.parametrize("salt", ["itsdangerous", "cookie-session", "delist-portal.other"])
def test_a_token_signed_with_our_key_for_another_purpose_is_invalid(signer, salt):
    assert refusal(signed([42, "n"], salt=salt)) == "invalid"


def test_links_are_signed_with_the_confirmation_salt(signer):
    assert read_confirmation(signed([42, "n"])) == ConfirmToken(42, "n")


def test_a_link_signed_with_another_key_is_invalid(tmp_path):
    with app_with_keys(tmp_path, OLD_KEY).app_context():
        token = sign_confirmation(42, "n")
    with app_with_keys(tmp_path, NEW_KEY).app_context():
        assert refusal(token) == "invalid"


def test_links_sent_before_a_key_change_work_while_the_old_key_is_a_fallback(tmp_path):
    with app_with_keys(tmp_path, OLD_KEY).app_context():
        token = sign_confirmation(42, "n")
    with app_with_keys(tmp_path, NEW_KEY, OLD_KEY).app_context():
        assert read_confirmation(token) == ConfirmToken(42, "n")


def test_new_links_are_signed_with_the_current_key_not_a_fallback(tmp_path):
    with app_with_keys(tmp_path, NEW_KEY, OLD_KEY).app_context():
        token = sign_confirmation(42, "n")
    with app_with_keys(tmp_path, NEW_KEY).app_context():
        assert read_confirmation(token) == ConfirmToken(42, "n")


@pytest.mark.parametrize(
    ("error", "reason"),
    [(TokenError.invalid(), "invalid"), (TokenError.expired(), "expired")],
)
def test_an_unusable_link_says_why(error, reason):
    assert (error.reason, str(error), error.delist_request) == (reason, reason, None)


def test_a_used_link_says_which_request_used_it():
    delist_request = object()
    error = TokenError.used(delist_request)
    assert (error.reason, str(error), error.delist_request) == ("used", "used", delist_request)
