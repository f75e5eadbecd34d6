"""Signed, expiring confirmation tokens carrying (request id, nonce)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from app.core.errors import DomainError
from app.models import DelistRequest

# Different salts keep a token made for one purpose from being accepted for another.
CONFIRM_SALT = "delist-portal.confirm-request"


class TokenError(DomainError):
    """A token that cannot be used; `reason` says why for the error page."""

    def __init__(self, reason: str, delist_request: DelistRequest | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delist_request = delist_request  # the request a used link belongs to

    @classmethod
    def invalid(cls) -> TokenError:
        return cls("invalid")

    @classmethod
    def expired(cls) -> TokenError:
        return cls("expired")

    @classmethod
    def used(cls, delist_request: DelistRequest) -> TokenError:
        return cls("used", delist_request)


@dataclass(frozen=True)
class ConfirmToken:
    request_id: int
    nonce: str

    @property
    def nonce_hash(self) -> str:
        return hash_nonce(self.nonce)


def hash_nonce(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def _serializer(salt: str) -> URLSafeTimedSerializer:
    config = current_app.config
    # itsdangerous tries every key and signs with the last, so the current key goes last.
    keys = [*config["SECRET_KEY_FALLBACKS"], config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt=salt)


def sign_confirmation(request_id: int, nonce: str) -> str:
    return _serializer(CONFIRM_SALT).dumps([request_id, nonce])


def read_confirmation(token: str) -> ConfirmToken:
    """Verify signature and age; raise TokenError.invalid() or .expired()."""
    max_age = current_app.config["CONFIRM_TOKEN_MAX_AGE_SECONDS"]
    if len(token) > 512:
        raise TokenError.invalid()
    try:
        data = _serializer(CONFIRM_SALT).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError.expired() from None
    except (BadData, UnicodeError, ValueError):
        raise TokenError.invalid() from None
    match data:
        case [int() as request_id, str() as nonce] if request_id > 0 and nonce:
            return ConfirmToken(request_id, nonce)
    raise TokenError.invalid()
