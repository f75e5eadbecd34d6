"""Bearer keys on the write API: who is calling, may they, and how often.

`requires(scope)` answers 401 (no key, an unknown or a revoked one; with
`WWW-Authenticate: Bearer`) or 403 (a key without the scope) before the view runs.
`per_key_limit` counts requests per key (`API_KEY_RATE_LIMIT`), across the endpoints.
The key itself is never logged: refusals log why, and the client address.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, request

from app.accounts import api_keys
from app.api.answers import error
from app.core import security_log
from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db, limiter
from app.models import ApiKey

SCHEME = "Bearer"


def _presented() -> str | None:
    """The key in `Authorization: Bearer KEY`, if the header has that form."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != SCHEME.lower() or not value or " " in value:
        return None
    return value


def current_key() -> ApiKey | None:
    """The active key this request carries (looked up once per request)."""
    if "api_key" not in g:
        presented = _presented()
        g.api_key = api_keys.authenticate(presented) if presented else None
    return g.api_key


def caller() -> ApiKey:
    """The key of a view behind `requires`."""
    api_key = current_key()
    if api_key is None:
        raise RuntimeError("caller() is for views behind requires()")
    return api_key


def actor() -> Actor:
    """The caller as the audit log names it: `apikey:NAME`, with the client address."""
    return Actor(f"apikey:{caller().name}", request.remote_addr)


def _refused(status: int, why: str, message: str, challenge: str) -> Response:
    security_log.event(
        "api_key.refused", outcome=why, client=request.remote_addr, path=request.path
    )
    response = error(status, "unauthorized" if status == 401 else "forbidden", message)
    response.headers["WWW-Authenticate"] = challenge
    return response


def _check(scope: str) -> Response | None:
    api_key = current_key()
    if api_key is None:
        given = request.headers.get("Authorization")
        # RFC 6750: no error code when no credentials were sent at all.
        challenge = f'{SCHEME} realm="api"' + ("" if given is None else ', error="invalid_token"')
        message = (
            "send an API key: Authorization: Bearer KEY"
            if given is None
            else "unknown or revoked API key"
        )
        return _refused(401, "missing" if given is None else "invalid", message, challenge)
    if not api_keys.allows(api_key, scope):
        challenge = f'{SCHEME} realm="api", error="insufficient_scope", scope="{scope}"'
        return _refused(403, "scope", f"this key lacks the scope {scope}", challenge)
    if api_keys.record_use(api_key, utcnow()):
        db.session.commit()
    return None


def requires(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The view runs only for an active key with `scope`."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            return _check(scope) or view(*args, **kwargs)

        return checked

    return decorate


def _key_limit() -> str:
    return current_app.config["API_KEY_RATE_LIMIT"]


def _key_id() -> str:
    api_key = current_key()
    return str(api_key.id) if api_key is not None else ""


# Shared by every keyed endpoint; requests without a valid key are not counted here
# (they get their 401 at once and cost one indexed look-up).
per_key_limit = limiter.shared_limit(
    _key_limit, scope="api-key", key_func=_key_id, exempt_when=lambda: current_key() is None
)
