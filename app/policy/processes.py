"""Several policy server processes on one port, each with its own index.

Each child listens with SO_REUSEPORT, so the kernel spreads new connections over them and
each answers on a core of its own. The parent holds the port (bound, never listening:
the kernel hands connections only to listening sockets), starts the children, starts a
new one when one dies, and on SIGTERM or SIGINT passes SIGTERM on and waits for them all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable

log = logging.getLogger("delist.policy")

POLL_SECONDS = 0.2
STOP_GRACE_SECONDS = 15.0  # then the children left are killed
RESTART_PAUSE_SECONDS = 1.0  # a child dying at once is not restarted in a tight loop


def default_count() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def reserve(host: str, port: int) -> socket.socket:
    """Bind HOST:PORT with SO_REUSEPORT without listening: the port (0: a free one) is ours,
    and a port taken by another program fails here, before any child starts."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class Supervisor:
    """Runs `serve(number)` in `count` forked children, numbered from 1, until told to stop."""

    def __init__(self, count: int, serve: Callable[[int], None], holding: socket.socket):
        self.count = count
        self.serve = serve
        self.holding = holding
        self.children: dict[int, tuple[int, float]] = {}  # pid -> (number, started)
        self.stop_deadline: float | None = None

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
        for number in range(1, self.count + 1):
            self.start(number)
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                self.kill_if_overdue()
                time.sleep(POLL_SECONDS)
                continue
            number, started = self.children.pop(pid)
            if self.stop_deadline is None:
                log.error(
                    "policy process #%d (pid %d) ended: %s; starting another",
                    number,
                    pid,
                    _ending(status),
                )
                if time.monotonic() - started < RESTART_PAUSE_SECONDS:
                    time.sleep(RESTART_PAUSE_SECONDS)
                self.start(number)
        self.holding.close()
        log.info("policy server stopped: all %d processes ended", self.count)

    def start(self, number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child: serve until stopped, then leave without the parent's cleanup
            code = 1
            try:
                self.holding.close()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                self.serve(number)
                code = 0
            except BaseException:
                log.exception("policy process #%d failed", number)
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = (number, time.monotonic())

    def stop(self) -> None:
        """Pass SIGTERM on to every child; they finish and end."""
        if self.stop_deadline is None:
            self.stop_deadline = time.monotonic() + STOP_GRACE_SECONDS
        for pid in list(self.children):
            _signal(pid, signal.SIGTERM)

    def kill_if_overdue(self) -> None:
        if self.stop_deadline is not None and time.monotonic() > self.stop_deadline:
            for pid in list(self.children):
                _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # ended already: waitpid tells
        os.kill(pid, sig)


def _ending(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
