"""How the rate limiter counts: nothing for a request no limit applies to, and a view's limits
in one Redis round trip instead of one per limit.

Flask-Limiter asks its storage once per limit, in order, and stops at the first one that
refuses. A submission is held to five limits: three hits and two tests before the view, and
the two mail limits hit again after it when a mail was queued (`deduct_when`), so seven round
trips to Redis. Neither Flask-Limiter nor `limits` batches them. Here Flask-Limiter still
decides everything (which limits, in which order, with which keys and costs), but while it
checks a view's limits (`check_in_one_round_trip`) and while it counts the deductions after
the view, its strategy only notes each hit and test (`NotingFixedWindow`); then one Lua script
runs them all in that order (`COUNT_SCRIPT`). When every limit has room, the script counts
exactly what the one-by-one calls would have counted. When one has none, the script changes
nothing and Flask-Limiter runs the limits again one by one, as it does without batching: its
429, its log line and what it counts for a refused request stay its own. So a submission costs
one round trip before the view and one after it.

Only the fixed window on a plain Redis storage is counted this way; any other strategy or
storage (the tests' `memory://`) is asked one limit at a time, as before.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import ParamSpec, TypeVar

import flask
import flask_limiter
from flask import current_app, g, request
from limits import RateLimitItem
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter
from redis.commands.core import Script

P = ParamSpec("P")
R = TypeVar("R")

# Every noted limit, in Flask-Limiter's order; ARGV[1] says whether to check before counting
# ("1": count nothing unless every limit has room), then four values per key: cost, amount,
# expiry, and "1" for a hit or "0" for a test. The counting is limits' own incr_expire.lua
# (a counter's window starts with its first hit), once per hit.
COUNT_SCRIPT = b"""
if ARGV[1] == "1" then
  local seen = {}
  for i, key in ipairs(KEYS) do
    local at = 2 + (i - 1) * 4
    local cost, amount = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
    local value = seen[key] or tonumber(redis.call("get", key) or "0")
    if value + cost > amount then
      return i
    end
    if ARGV[at + 3] == "1" then
      value = value + cost
    end
    seen[key] = value
  end
end
for i, key in ipairs(KEYS) do
  local at = 2 + (i - 1) * 4
  if ARGV[at + 3] == "1" then
    local cost = tonumber(ARGV[at])
    if redis.call("incrby", key, cost) == cost then
      redis.call("expire", key, ARGV[at + 2])
    end
  end
end
return 0
"""
_CHECKS = "_limit_checks"  # the batch of checks being noted, in flask.g
_DEDUCTIONS = "_limit_deductions"  # the batch of deductions being noted


@dataclass
class Noted:
    """One hit or test a strategy was asked for."""

    key: str
    cost: int
    amount: int
    expiry: int
    hit: bool


@dataclass
class Batch:
    """The hits and tests noted for one request, to be sent to Redis at once."""

    storage: RedisStorage
    noted: list[Noted] = field(default_factory=list)

    def count(self, *, check: bool) -> int:
        """Run the noted hits and tests; with `check`, the position of the first limit without
        room (1-based, nothing counted), or 0 when all had room and were counted."""
        if not self.noted:
            return 0
        keys = [self.storage.prefixed_key(noted.key) for noted in self.noted]
        args: list[str | int] = ["1" if check else "0"]
        for noted in self.noted:
            args += [noted.cost, noted.amount, noted.expiry, "1" if noted.hit else "0"]
        return int(_script(self.storage)(keys, args))


_scripts: weakref.WeakKeyDictionary[RedisStorage, Script] = weakref.WeakKeyDictionary()


def _script(storage: RedisStorage) -> Script:
    """COUNT_SCRIPT on this storage's connection (sent by its SHA1 once Redis knows it)."""
    if storage not in _scripts:
        _scripts[storage] = storage.get_connection().register_script(COUNT_SCRIPT)
    return _scripts[storage]


class NotingFixedWindow(FixedWindowRateLimiter):
    """The fixed window, noting each hit and test in `batch` instead of asking Redis: each is
    answered "room left" until the batch is run."""

    def __init__(self, batch: Batch):
        super().__init__(batch.storage)
        self.batch = batch

    def _note(
        self, item: RateLimitItem, identifiers: tuple[str, ...], cost: int, hit: bool
    ) -> bool:
        key = item.key_for(*identifiers)
        self.batch.noted.append(Noted(key, cost, item.amount, item.get_expiry(), hit))
        return True

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._note(item, identifiers, cost, hit=True)

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._note(item, identifiers, cost, hit=False)


class _Refused(Exception):
    """A noted limit had no room, or Redis failed: Flask-Limiter must count one by one."""


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter's extension, which skips requests no limit applies to (`counts_nothing`)
    and can count a view's limits in one round trip (`check_in_one_round_trip`)."""

    def __init__(self, key_func: Callable[[], str]):
        super().__init__(key_func=key_func)
        self.request_filter(self.counts_nothing)

    def init_app(self, app: flask.Flask) -> None:
        # after_request functions run in the reverse order of registration: this one runs
        # right after Flask-Limiter's, which counts the deductions.
        if app.config.get("RATELIMIT_ENABLED", self.enabled):
            app.after_request(self._count_deductions)
        super().init_app(app)

    def counts_nothing(self) -> bool:
        """Whether no limit applies to this request: the limiter is off, or Flask-Limiter has
        none for this endpoint and method (no default, application or meta limit either).

        A limit's own `exempt_when` is not asked: such a limit may apply. The answer for an
        endpoint and method is kept for the app's life, as its limits are declared when the
        app starts; limits Flask-Limiter learns of later, on functions a view calls, are
        asked for on every request (`has_hints`).
        """
        if not (self.enabled and self.initialized):
            return True
        endpoint = self.identify_request()  # as Flask-Limiter names the request
        if not endpoint:
            return True
        if self.limit_manager.has_hints(endpoint) or self._meta_limits:
            return False
        known: dict[tuple[str, str], bool] = current_app.extensions.setdefault(
            "limiter_counts_nothing", {}
        )
        method = request.method
        if (endpoint, method) not in known:
            known[endpoint, method] = not self._limits_for(endpoint)
        return known[endpoint, method]

    def _limits_for(self, endpoint: str) -> bool:
        """Whether Flask-Limiter has a limit for this endpoint and this request's method (its
        own `flask limiter limits` command lists the same)."""
        if self.limit_manager.application_limits:
            return True
        defaults, decorated = self.limit_manager.resolve_limits(
            current_app, endpoint, request.blueprint
        )
        return any(not limit.method_exempt for limit in (*defaults, *decorated))

    @property
    def limiter(self) -> RateLimiter:
        """The strategy: one that notes, while a batch is open for this request."""
        if flask.has_app_context():
            batch: Batch | None = g.get(_CHECKS) or g.get(_DEDUCTIONS)
            if batch is not None:
                return NotingFixedWindow(batch)
        return super().limiter

    def _new_batch(self) -> Batch | None:
        """A batch, when the limits are counted by the fixed window in Redis."""
        strategy = super().limiter
        storage = strategy.storage
        if type(strategy) is FixedWindowRateLimiter and type(storage) is RedisStorage:
            return Batch(storage)
        return None

    def after_the_checks(self, view: Callable[P, R]) -> Callable[P, R]:
        """The view, after the checks noted for it have been run: put it under its limits."""

        @wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            batch: Batch | None = g.pop(_CHECKS, None)
            if batch is not None:
                try:
                    refused = batch.count(check=True)
                except Exception as error:  # Flask-Limiter's own handling decides
                    raise _Refused from error
                if refused:
                    raise _Refused
            return view(*args, **kwargs)

        return checked

    def check_in_one_round_trip(
        self, limited: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Call `limited`, a view under its limits and `after_the_checks`, with its checks in one
        round trip and its deductions after the view in one more."""
        batch = self._new_batch()
        if batch is None:
            return limited(*args, **kwargs)
        setattr(g, _CHECKS, batch)
        try:
            answer = limited(*args, **kwargs)
        except _Refused:
            g.pop(_CHECKS, None)
            answer = limited(*args, **kwargs)  # one limit at a time, as without batching
        finally:
            g.pop(_CHECKS, None)
        setattr(g, _DEDUCTIONS, Batch(batch.storage))
        return answer

    def _count_deductions(self, response: flask.Response) -> flask.Response:
        """Count the hits Flask-Limiter noted after the view (its `deduct_when` limits); a
        failure is swallowed or raised as Flask-Limiter does with its own deductions."""
        batch: Batch | None = g.pop(_DEDUCTIONS, None)
        if batch is not None:
            try:
                batch.count(check=False)
            except Exception:
                if not self._swallow_errors:
                    raise
                self.logger.exception("Failed to deduct rate limit. Swallowing error")
        return response
