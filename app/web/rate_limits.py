"""Rate limits more than one edge applies, and how a limit reads its setting."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import current_app

from app.extensions import limiter

P = ParamSpec("P")
R = TypeVar("R")


def setting(name: str) -> Callable[[], str]:
    """A limit read from the settings when a request comes, so tests may change it."""
    return lambda: current_app.config[name]


def lookup_limit(view: Callable[P, R]) -> Callable[P, R]:
    """Lookups per client, page and JSON API together (API_RATE_LIMIT): one budget."""
    return limiter.shared_limit(setting("API_RATE_LIMIT"), scope="lookup")(view)
