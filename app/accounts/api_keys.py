"""API keys for machines: create one (shown once), find it by its key, record use, revoke.

A key is `dlp_` and 43 characters of `secrets.token_urlsafe(32)`: 256 random bits. The
database keeps only its SHA-256. A slow password hash (argon2, as for operators) protects
secrets people choose, which an attacker holding the hashes could guess; nobody can guess
256 random bits, fast hash or not, so a fast hash loses nothing and costs microseconds on
every request instead of tens of milliseconds. It is unkeyed (not an HMAC of SECRET_KEY)
so that rotating SECRET_KEY leaves every key working. The prefix lets secret scanners and
our log redaction recognise a key that leaked.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.core import audit
from app.core.actor import Actor
from app.core.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.models import API_SCOPES, ApiKey

PREFIX = "dlp_"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# Recording each use would write a row per request; once a minute tells operators enough.
LAST_USED_PRECISION = timedelta(minutes=1)
# A key that may change the list may read it too (the write answers show listings anyway).
IMPLIED = {"listings:write": {"listings:read"}}


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def checked_name(name: str) -> str:
    name = name.strip().lower()
    if not NAME_RE.match(name) or len(name) > ApiKey.NAME_LENGTH:
        raise Invalid(
            f"a key's name is 1 to {ApiKey.NAME_LENGTH} characters: lower-case letters, "
            "digits, '.', '_' or '-', starting with a letter or digit (e.g. trap-feed)"
        )
    return name


def checked_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted(set(scopes))
    if not chosen:
        raise Invalid(f"give at least one scope: {', '.join(API_SCOPES)}")
    unknown = [scope for scope in chosen if scope not in API_SCOPES]
    if unknown:
        raise Invalid(f"unknown scope {unknown[0]!r}: use {', '.join(API_SCOPES)}")
    return chosen


def create(name: str, scopes: Iterable[str], *, actor: Actor, now: datetime) -> tuple[ApiKey, str]:
    """A new key and its secret value, which is shown once and never stored."""
    name = checked_name(name)
    chosen = checked_scopes(scopes)
    if find(name) is not None:
        raise Conflict(f"a key named {name} exists already (names are never reused)")
    secret = PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(
        name=name,
        key_hash=key_hash(secret),
        scopes=" ".join(chosen),
        created_at=now,
        created_by=actor.name,
    )
    db.session.add(api_key)
    db.session.flush()
    audit.record("api_key.created", actor=actor, now=now, detail=f"{name} ({' '.join(chosen)})")
    return api_key, secret


def find(name: str) -> ApiKey | None:
    return db.session.scalar(sa.select(ApiKey).where(ApiKey.name == name.strip().lower()))


def get(name: str) -> ApiKey:
    api_key = find(name)
    if api_key is None:
        raise NotFound(f"no API key named {name.strip().lower()}")
    return api_key


def all_keys() -> list[ApiKey]:
    """Every key, active ones first, then by name."""
    return list(
        db.session.scalars(sa.select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.name))
    )


def authenticate(secret: str) -> ApiKey | None:
    """The active key with this secret value, if any."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    return db.session.scalar(
        sa.select(ApiKey).where(ApiKey.key_hash == key_hash(secret), ApiKey.revoked_at.is_(None))
    )


def allows(api_key: ApiKey, scope: str) -> bool:
    granted = set(api_key.scope_list)
    for scope_held in api_key.scope_list:
        granted |= IMPLIED.get(scope_held, set())
    return scope in granted


def record_use(api_key: ApiKey, now: datetime) -> bool:
    """Note that the key was used, at most once per LAST_USED_PRECISION; True if written."""
    last = api_key.last_used_at
    if last is not None and now - last < LAST_USED_PRECISION:
        return False
    api_key.last_used_at = now
    return True


def revoke(api_key: ApiKey, *, actor: Actor, now: datetime, why: str | None = None) -> None:
    """The key stops working at once; it stays listed as revoked."""
    if api_key.revoked_at is not None:
        raise Conflict(f"the key {api_key.name} was revoked already")
    api_key.revoked_at = now
    api_key.revoked_by = actor.name
    detail = api_key.name if not why else f"{api_key.name}: {why}"
    audit.record("api_key.revoked", actor=actor, now=now, detail=detail)
