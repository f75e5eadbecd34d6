"""A proof-of-work check on the public form, instead of a puzzle captcha.

The protocol is ALTCHA's (version 1): the server signs a challenge, the
SHA-256 of a salt and a secret number below `CHALLENGE_MAX_NUMBER`; the
browser finds the number by trying them (static/challenge.js) and sends it
back with the form. That costs a person's browser a second or two once, and a
bot the same for every submission. Nothing is shown to solve and no other site
is involved. A solution is spent on first use and refused after
`CHALLENGE_TTL`.

The operators' sign-in uses the same check, with its own key and difficulty
(`ADMIN_LOGIN_CHALLENGE_MAX_NUMBER`), when an account has had many failed sign-ins
(app.accounts.signin): a solution for the public form does not open the sign-in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import sqlalchemy as sa
from altcha import create_challenge_v1, extract_params_v1, verify_solution_v1
from altcha.v1 import PayloadType
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.core import sql
from app.extensions import db
from app.models import SpentChallenge

ALGORITHM: Final = "SHA-256"
CHALLENGE_TTL = timedelta(minutes=20)
MAX_PAYLOAD_LENGTH = 1024
PAYLOAD_TEXT_FIELDS = ("algorithm", "challenge", "salt", "signature")
# What a challenge is for: each purpose has its own key, so solutions do not cross over.
PUBLIC_FORM = b"form challenge"
SIGN_IN = b"operator sign-in challenge"


class ChallengeError(Exception):
    """The form's proof of work is missing, wrong, expired or already used."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # missing | invalid | expired | used


def enabled() -> bool:
    return current_app.config["CHALLENGE_ENABLED"]


def _key(purpose: bytes) -> bytes:
    """A key for one purpose's challenges only, derived from SECRET_KEY."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, purpose, hashlib.sha256).digest()


def new_challenge(
    now: datetime, *, purpose: bytes = PUBLIC_FORM, max_number: int | None = None
) -> dict[str, Any]:
    """A fresh signed challenge, as the browser's solver reads it."""
    challenge = create_challenge_v1(
        algorithm=ALGORITHM,
        max_number=max_number or current_app.config["CHALLENGE_MAX_NUMBER"],
        salt_length=12,
        hmac_key=_key(purpose),
        salt="",
        number=None,
        expires=now + CHALLENGE_TTL,
        params=None,
    )
    return {
        "algorithm": challenge.algorithm,
        "challenge": challenge.challenge,
        "maxnumber": challenge.max_number,
        "salt": challenge.salt,
        "signature": challenge.signature,
    }


def offer(now: datetime) -> dict[str, Any] | None:
    """A challenge for a page with a public form, or None when challenges are off."""
    return new_challenge(now) if enabled() else None


def for_sign_in(now: datetime) -> dict[str, Any]:
    """A challenge for the operators' sign-in (asked only when an account is under attack)."""
    max_number = current_app.config["ADMIN_LOGIN_CHALLENGE_MAX_NUMBER"]
    return new_challenge(now, purpose=SIGN_IN, max_number=max_number)


def _decode(payload: str | None) -> PayloadType:
    """The solution the browser sent, checked for shape before any hashing."""
    if not payload:
        raise ChallengeError("missing")
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise ChallengeError("invalid")
    try:
        data = json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):  # includes JSON and UTF-8 decoding errors
        raise ChallengeError("invalid") from None
    if not isinstance(data, dict):
        raise ChallengeError("invalid")
    number = data.get("number")
    if not all(isinstance(data.get(name), str) for name in PAYLOAD_TEXT_FIELDS):
        raise ChallengeError("invalid")
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise ChallengeError("invalid")
    if data["algorithm"] != ALGORITHM:
        raise ChallengeError("invalid")
    return cast(PayloadType, {name: data[name] for name in (*PAYLOAD_TEXT_FIELDS, "number")})


def _expires_at(data: PayloadType) -> datetime:
    """The expiry the server signed into the salt (checked by the signature)."""
    return datetime.fromtimestamp(int(extract_params_v1(data)["expires"][0]), tz=UTC)


def spend(payload: str | None, now: datetime, *, purpose: bytes = PUBLIC_FORM) -> None:
    """Accept a solution once; raise ChallengeError otherwise.

    The spent signature is written in this transaction (in a savepoint), so a
    solution sent twice at the same moment is accepted at most once.
    """
    data = _decode(payload)
    if not verify_solution_v1(data, _key(purpose), check_expires=False)[0]:
        raise ChallengeError("invalid")
    try:
        expires_at = _expires_at(data)
    except (KeyError, ValueError, OverflowError):
        raise ChallengeError("invalid") from None
    if expires_at <= now:
        raise ChallengeError("expired")
    try:
        with db.session.begin_nested():
            db.session.add(SpentChallenge(signature=data["signature"], expires_at=expires_at))
    except IntegrityError:
        raise ChallengeError("used") from None


def forget_expired(now: datetime) -> int:
    """Delete spent challenges that could no longer be used anyway."""
    result = db.session.execute(sa.delete(SpentChallenge).where(SpentChallenge.expires_at <= now))
    return sql.rowcount(result)
