"""Operator accounts: passwords (argon2id), roles, second factor (TOTP), sign-in records."""

from __future__ import annotations

import hmac
import secrets
import string
from datetime import datetime

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core import audit
from app.core.actor import Actor
from app.core.errors import Invalid
from app.extensions import db
from app.models import OPERATOR_ROLES, Operator

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
TOTP_ISSUER = "Delist portal"

hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A fixed hash to verify against when the account does not exist, so that a wrong
# email address takes as long as a wrong password.
_DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


class OperatorError(Invalid):
    """A request about operators that cannot be carried out; str() says why."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OperatorError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise OperatorError(f"the password may have at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) < 5:
        raise OperatorError("the password needs more different characters")


def generate_password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "-".join("".join(secrets.choice(alphabet) for _ in range(6)) for _ in range(4))


def find(email: str) -> Operator | None:
    return db.session.scalar(sa.select(Operator).where(Operator.email == normalise_email(email)))


def get(email: str) -> Operator:
    operator = find(email)
    if operator is None:
        raise OperatorError(f"no operator {normalise_email(email)}")
    return operator


def create(email: str, password: str, role: str, *, actor: Actor, now: datetime) -> Operator:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise OperatorError(f"{email!r} is not an email address")
    if role not in OPERATOR_ROLES:
        raise OperatorError(f"role must be one of {', '.join(OPERATOR_ROLES)}")
    if find(email) is not None:
        raise OperatorError(f"an operator {email} exists already")
    check_password_rules(password)
    operator = Operator(
        email=email,
        password_hash=hasher.hash(password),
        role=role,
        active=True,
        session_epoch=0,
        created_at=now,
    )
    db.session.add(operator)
    db.session.flush()
    audit.record("operator.created", actor=actor, now=now, detail=f"{email} ({role})")
    return operator


def _end_sessions(operator: Operator) -> None:
    """Every session of this operator, on every device, stops working."""
    operator.session_epoch += 1


def set_password(operator: Operator, password: str, *, actor: Actor, now: datetime) -> None:
    check_password_rules(password)
    operator.password_hash = hasher.hash(password)
    _end_sessions(operator)  # a new password ends every session
    audit.record("operator.password_set", actor=actor, now=now, detail=operator.email)


def disable(operator: Operator, *, actor: Actor, now: datetime) -> None:
    operator.active = False
    _end_sessions(operator)
    audit.record("operator.disabled", actor=actor, now=now, detail=operator.email)


def sign_out_everywhere(operator: Operator, *, client_address: str | None, now: datetime) -> None:
    """The operator signs out: this session and every other one end."""
    _end_sessions(operator)
    audit.record("operator.logout", actor=Actor(operator.actor, client_address), now=now)


def record_sign_in(operator: Operator, *, client_address: str | None, now: datetime) -> None:
    operator.last_login_at = now
    audit.record("operator.login", actor=Actor(operator.actor, client_address), now=now)


# Failed sign-ins name the account only when it exists: what was typed into the email
# field may be a password, and must not reach the audit trail or the logs.
UNKNOWN_ACCOUNT = "operator:(unknown account)"


def record_failed_sign_in(
    email: str, why: str, *, client_address: str | None, now: datetime
) -> None:
    operator = find(email)
    name = operator.actor if operator is not None else UNKNOWN_ACCOUNT
    audit.record("operator.login_failed", actor=Actor(name, client_address), now=now, detail=why)


def enable_totp(operator: Operator, *, actor: Actor, now: datetime) -> str:
    """Give the operator a new TOTP secret; return its otpauth:// URI."""
    operator.totp_secret = pyotp.random_base32()
    operator.totp_last_step = None
    audit.record("operator.totp_enabled", actor=actor, now=now, detail=operator.email)
    return pyotp.TOTP(operator.totp_secret).provisioning_uri(
        name=operator.email, issuer_name=TOTP_ISSUER
    )


def authenticate(email: str, password: str) -> Operator | None:
    """The active operator with this email and password, or None. Rehashes old hashes."""
    operator = find(email)
    try:
        hasher.verify(operator.password_hash if operator else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if operator is None or not operator.active:
        return None
    if hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = hasher.hash(password)
    return operator


def verify_totp(operator: Operator, code: str, now: datetime) -> bool:
    """Accept a current code (one step of clock drift either way) once."""
    if operator.totp_secret is None:  # no second factor (any more): no code is right
        return False
    totp = pyotp.TOTP(operator.totp_secret)
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return False
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        matches = hmac.compare_digest(totp.at(step * totp.interval), code)
        if matches and step > (operator.totp_last_step or -1):
            operator.totp_last_step = step
            return True
    return False
