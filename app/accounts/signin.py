"""Signing in, and what failed sign-ins cost the next attempt.

A hard lock after a few wrong passwords would let anyone lock an operator out: twelve
guesses from twelve addresses and the real password no longer works. So failures
make guessing dearer instead of refusing everyone:

- per client address, the sign-in views stop an address after
  `ADMIN_LOGIN_LIMIT_PER_ADDRESS` failures (a 429 page), so one machine cannot guess fast;
- per account, after `ADMIN_LOGIN_LIMIT_PER_ACCOUNT` failures every attempt for that
  account needs a proof of work (app.abuse.challenge, `ADMIN_LOGIN_CHALLENGE_MAX_NUMBER`),
  except from an address that signed in to it within `KNOWN_ADDRESS_DAYS`. The browser
  solves it by itself in a few seconds; a botnet pays it for every guess. The right
  password (and code) always gets in.

Unknown accounts are counted like real ones, so the answers tell nothing about which
exist. The counters live in the rate limiter's storage (`RATELIMIT_STORAGE_URI`), so
they are shared by every worker and host that share it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from limits import RateLimitItem
from limits import parse as parse_limit

from app.accounts import operators
from app.extensions import limiter
from app.models import Operator

KNOWN_ADDRESS_DAYS = 30
_KNOWN_ADDRESS = parse_limit(f"1 per {KNOWN_ADDRESS_DAYS} days")


class Outcome(enum.Enum):
    WRONG = "wrong"  # the email address or the password is not right
    PROOF_NEEDED = "proof_needed"  # the account is under attack: send a proof of work
    CODE_NEEDED = "code_needed"  # the password was right; the TOTP step follows
    SIGNED_IN = "signed_in"


@dataclass(frozen=True)
class PasswordStep:
    outcome: Outcome
    operator: Operator | None = None


def _counting() -> bool:
    return bool(current_app.config["RATELIMIT_ENABLED"])


def _key(kind: str, *parts: str) -> tuple[str, ...]:
    return (current_app.config.get("RATELIMIT_KEY_PREFIX", ""), kind, *parts)


def _failures_allowed() -> RateLimitItem:
    return parse_limit(current_app.config["ADMIN_LOGIN_LIMIT_PER_ACCOUNT"])


def under_attack(email: str) -> bool:
    """Whether the account has had its allowance of failed sign-ins in the current window."""
    account = operators.normalise_email(email)
    return _counting() and not limiter.limiter.test(
        _failures_allowed(), *_key("admin-login-failures", account)
    )


def known_address(email: str, client_address: str | None) -> bool:
    """Whether `client_address` signed in to this account lately."""
    if not _counting() or not client_address:
        return False
    account = operators.normalise_email(email)
    key = _key("admin-login-known", account, client_address)
    return not limiter.limiter.test(_KNOWN_ADDRESS, *key)


def proof_needed(email: str, client_address: str | None) -> bool:
    return under_attack(email) and not known_address(email, client_address)


def record_failure(email: str, why: str, *, client_address: str | None, now: datetime) -> None:
    """A wrong password or code: audited, and counted against the account."""
    operators.record_failed_sign_in(email, why, client_address=client_address, now=now)
    if _counting():
        account = operators.normalise_email(email)
        limiter.limiter.hit(_failures_allowed(), *_key("admin-login-failures", account))


def record_success(operator: Operator, *, client_address: str | None, now: datetime) -> None:
    """A complete sign-in: audited, and this address is known for the account from now on."""
    operators.record_sign_in(operator, client_address=client_address, now=now)
    if _counting() and client_address:
        key = _key("admin-login-known", operator.email, client_address)
        limiter.limiter.hit(_KNOWN_ADDRESS, *key)


def password_step(
    email: str,
    password: str,
    *,
    client_address: str | None,
    proof: Callable[[], bool],
    now: datetime,
) -> PasswordStep:
    """Check the password; `proof` spends the request's proof of work when one is needed.

    The password is not even looked at without a needed proof, so such an attempt tells
    nothing and costs the server no password hashing.
    """
    if proof_needed(email, client_address) and not proof():
        return PasswordStep(Outcome.PROOF_NEEDED)
    operator = operators.authenticate(email, password)
    if operator is None:
        record_failure(email, "password", client_address=client_address, now=now)
        return PasswordStep(Outcome.WRONG)
    if operator.totp_secret:
        return PasswordStep(Outcome.CODE_NEEDED, operator)
    return PasswordStep(Outcome.SIGNED_IN, operator)


def code_step(operator: Operator, code: str, *, client_address: str | None, now: datetime) -> bool:
    """Check the TOTP code of an operator past the password step; a wrong one counts."""
    if operators.verify_totp(operator, code, now):
        return True
    record_failure(operator.email, "totp", client_address=client_address, now=now)
    return False
