"""Rate limits more than one edge applies, how a limit reads its setting, and how a view's
limits are stacked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app
from flask_limiter import RouteLimit

from app.extensions import limiter

P = ParamSpec("P")
R = TypeVar("R")


def setting(name: str) -> Callable[[], str]:
    """A limit read from the settings when a request comes, so tests may change it."""
    return lambda: current_app.config[name]


def lookup_limit(view: Callable[P, R]) -> Callable[P, R]:
    """Lookups per client, page and JSON API together (API_RATE_LIMIT): one budget."""
    return limiter.shared_limit(setting("API_RATE_LIMIT"), scope="lookup")(view)


def stacked(view: Callable[P, R], limits: Sequence[RouteLimit]) -> Callable[P, R]:
    """The view behind its limits, the first one innermost.

    A request no limit applies to (a GET of a form whose limits count POSTs, or any request
    with the limits off) goes straight to the view, without Flask-Limiter's work; the others
    have all their limits counted in one Redis round trip (app.web.limit_counting).
    """
    limited = limiter.after_the_checks(view)
    for limit in limits:
        limited = limit(limited)

    # With Flask-Limiter's mark on the innermost wrapper: a limit stacked above this one is
    # checked with the others, not a second time.
    @wraps(limited)
    def counted(*args: P.args, **kwargs: P.kwargs) -> R:
        if limiter.counts_nothing():
            return view(*args, **kwargs)
        return limiter.check_in_one_round_trip(limited, *args, **kwargs)

    return counted
