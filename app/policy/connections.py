"""The policy server's open connections and the limits that keep it answering.

A connection is *idle* between requests and *busy* from a request's first byte to its
blank line. A busy one is cut at POLICY_REQUEST_TIMEOUT_SECONDS however slowly its bytes
trickle in (Postfix sends a request in one write). An idle one lives until
POLICY_IDLE_TIMEOUT_SECONDS, or until a new connection needs its place: past
POLICY_MAX_CONNECTIONS the longest idle one is closed first, a busy one only when none is
idle. Postfix retries a closed connection once, a second later, so closing an idle
connection costs a mail server a delay, never an answer; a full table of connections
would cost every mail server its answers (`default_action=DUNNO` lets listed senders in).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.policy.server import PolicyProtocol

log = logging.getLogger("delist.policy")

# asyncio accepts up to this many connections in one pass before any of them is set up
# (and can make room), so that many descriptors must stay free beyond the cap; another 64
# cover the process's own files: standard streams, the event loop, the database, logs.
ACCEPT_BACKLOG = 100
RESERVED_DESCRIPTORS = ACCEPT_BACKLOG + 64
# accept() errors after which asyncio stops accepting for a second (ACCEPT_RETRY_DELAY).
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
REPORT_SECONDS = 60.0  # at most one line a minute about the connections we closed
QUIET_SECONDS = 10.0  # a run of accept failures ends after this long without one


class Connections:
    """Every open connection, in an idle and a busy queue, oldest first."""

    def __init__(self, config: Mapping[str, Any]):
        self.wanted: int = config["POLICY_MAX_CONNECTIONS"]
        self.limit = self.wanted  # lower when the descriptor limit cannot hold `wanted`
        self.request_timeout: float = config["POLICY_REQUEST_TIMEOUT_SECONDS"]
        self.idle_timeout: float = config["POLICY_IDLE_TIMEOUT_SECONDS"]
        self.open: set[PolicyProtocol] = set()
        # Idle ones by when they last became idle, busy ones by when their request began.
        self.idle: OrderedDict[PolicyProtocol, None] = OrderedDict()
        self.busy: OrderedDict[PolicyProtocol, None] = OrderedDict()
        self.closed: Counter[str] = Counter()  # by reason, since the last report
        self.next_report = time.monotonic() + REPORT_SECONDS
        self.accept_failures = 0  # in the current run of them
        self.last_accept_failure = 0.0

    def __len__(self) -> int:
        return len(self.open)

    def __iter__(self) -> Iterator[PolicyProtocol]:
        return iter(list(self.open))

    # --- one connection's life ----------------------------------------------------------
    def opened(self, connection: PolicyProtocol) -> None:
        if len(self.open) >= self.limit:
            self.close_oldest(len(self.open) - self.limit + 1, "over the cap")
        self.open.add(connection)
        self.idle[connection] = None

    def now_idle(self, connection: PolicyProtocol) -> None:
        if connection.deadline is not None:
            connection.deadline.cancel()
            connection.deadline = None
            del self.busy[connection]
        connection.idle_since = time.monotonic()
        self.idle[connection] = None
        self.idle.move_to_end(connection)

    def now_busy(self, connection: PolicyProtocol) -> None:
        """A request has begun on `connection`: it has request_timeout from now to finish."""
        if connection.deadline is None:
            del self.idle[connection]
        else:
            connection.deadline.cancel()
        self.busy[connection] = None
        self.busy.move_to_end(connection)
        connection.deadline = asyncio.get_running_loop().call_later(
            self.request_timeout, self.close, connection, "slow request"
        )

    def close(self, connection: PolicyProtocol, reason: str) -> None:
        self.forget(connection)
        connection.transport.close()
        self.closed[reason] += 1

    def forget(self, connection: PolicyProtocol) -> None:
        self.open.discard(connection)
        self.idle.pop(connection, None)
        self.busy.pop(connection, None)
        if connection.deadline is not None:
            connection.deadline.cancel()
            connection.deadline = None

    def close_oldest(self, count: int, reason: str) -> None:
        """Close `count` connections: the longest idle first, then the longest busy."""
        for queue in (self.idle, self.busy):
            while count > 0 and queue:
                self.close(next(iter(queue)), reason)
                count -= 1

    # --- once a second -----------------------------------------------------------------
    def tend(self, now: float) -> None:
        """Close connections idle too long; end a run of accept failures; report."""
        while self.idle:
            oldest = next(iter(self.idle))
            if now - oldest.idle_since < self.idle_timeout:
                break
            self.close(oldest, "idle")
        if self.accept_failures and now - self.last_accept_failure > QUIET_SECONDS:
            log.info("accepting connections again after %d failed attempts", self.accept_failures)
            self.accept_failures = 0
            self.fit_descriptor_limit()
        if now >= self.next_report:
            self.report_closed()
            self.next_report = now + REPORT_SECONDS

    def report_closed(self) -> None:
        if not self.closed:
            return
        level = logging.INFO if set(self.closed) == {"idle"} else logging.WARNING
        counts = ", ".join(f"{count} {reason}" for reason, count in sorted(self.closed.items()))
        log.log(level, "closed connections: %s (%d open)", counts, len(self.open))
        self.closed.clear()

    # --- file descriptors ---------------------------------------------------------------
    def fit_descriptor_limit(self) -> None:
        """Set the cap to POLICY_MAX_CONNECTIONS, or to what the descriptor limit can hold.

        Raises the soft limit towards the hard one when that makes room."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.limit = self.wanted
        if soft == resource.RLIM_INFINITY:
            return
        needed = self.wanted + RESERVED_DESCRIPTORS
        if soft < needed:
            soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.limit = max(1, min(self.wanted, soft - RESERVED_DESCRIPTORS))
        if self.limit < self.wanted:
            log.warning(
                "POLICY_MAX_CONNECTIONS=%d does not fit the file descriptor limit %d "
                "(%d kept free); at most %d connections",
                self.wanted,
                soft,
                RESERVED_DESCRIPTORS,
                self.limit,
            )

    def loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The event loop's exception handler: accept() failures come here."""
        exc = context.get("exception")
        if "socket" in context and isinstance(exc, OSError) and exc.errno in OUT_OF_RESOURCES:
            self.accept_failed(exc)
        else:
            loop.default_exception_handler(context)

    def accept_failed(self, exc: OSError) -> None:
        """No descriptor (or memory) for a new connection: close the oldest, lower the cap.

        asyncio stops accepting for a second and tries again, so nothing spins or dies; the
        lower cap leaves room for one accept burst, until a quiet spell resets it.
        """
        self.limit = max(1, min(self.limit, len(self.open) - ACCEPT_BACKLOG))
        self.close_oldest(len(self.open) - self.limit, "out of descriptors")
        if not self.accept_failures:
            log.error(
                "cannot accept connections: %s; closed the oldest, at most %d connections now",
                exc.strerror,
                self.limit,
            )
        self.accept_failures += 1
        self.last_accept_failure = time.monotonic()
