"""Postfix SMTP access policy delegation server, answering from the in-memory index.

Protocol: `name=value` lines ended by an empty line; one `action=...` line and
an empty line back; many requests per connection (Postfix keeps it open). RFC 5782's test
addresses get their fixed answers whatever the list holds (app.policy.rfc5782).

Connections and their limits: app.policy.connections.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, cast

from flask import Flask

from app.core.clock import utcnow
from app.listing.addresses import unmapped
from app.listing.rejection import reject_reply
from app.policy import index as policy_index
from app.policy import rfc5782
from app.policy.connections import ACCEPT_BACKLOG, Connections
from app.policy.heartbeat import Heartbeat, default_name
from app.policy.metrics import AnswerLatency

log = logging.getLogger("delist.policy")

MAX_REQUEST_BYTES = 16 * 1024  # Postfix sends about 1 KiB
DUNNO = b"action=DUNNO\n\n"
SWEEP_SECONDS = 1.0


class PolicyService:
    """Answers one policy request from the current index snapshot."""

    def __init__(self, config: Mapping[str, Any], snapshot: policy_index.Snapshot):
        self.config = config
        self.snapshot = snapshot
        self.malformed_reply = f"action={config['POLICY_MALFORMED_ACTION']}\n\n".encode()
        self.requests = 0
        self.rejected = 0
        self.malformed = 0
        self.latency = AnswerLatency()

    def reject(self, address: str) -> bytes:
        return f"action={reject_reply(self.config, address)}\n\n".encode()

    def answer(self, request: bytes) -> bytes:
        self.requests += 1
        attributes = {}
        for line in request.split(b"\n"):
            name, sep, value = line.partition(b"=")
            if not sep or not name:
                return self.refuse_malformed(f"line without name=value: {line[:80]!r}")
            attributes[name] = value
        if attributes.get(b"request") != b"smtpd_access_policy":
            return self.refuse_malformed(f"unknown request type {attributes.get(b'request')!r}")
        raw = attributes.get(b"client_address", b"")
        try:
            address = unmapped(ipaddress.ip_address(raw.decode("ascii")))
        except (UnicodeDecodeError, ValueError):
            return DUNNO  # "unknown" or empty: nothing to look up
        listed = rfc5782.fixed_answer(address)
        if listed is None:
            listed = self.snapshot.index.lookup(address, time.time()) is not None
        if not listed:
            return DUNNO
        self.rejected += 1
        return self.reject(str(address))

    def refuse_malformed(self, why: str) -> bytes:
        self.malformed += 1
        log.warning("policy request malformed: %s", why)
        return self.malformed_reply


class PolicyProtocol(asyncio.Protocol):
    """One client connection; `connections` keeps it in its idle or its busy queue."""

    def __init__(self, server: PolicyServer):
        self.server = server
        self.connections = server.connections
        self.buffer = bytearray()
        self.transport: asyncio.Transport  # set by connection_made(), before anything else
        self.idle_since = time.monotonic()
        self.deadline: asyncio.TimerHandle | None = None  # set while a request is unfinished

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a TCP server's: a Transport
        self.connections.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.forget(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        service = self.server.service
        finished = False
        while True:
            end = self.buffer.find(b"\n\n")
            if end < 0:
                break
            request = bytes(self.buffer[:end]).strip(b"\n")
            del self.buffer[: end + 2]
            finished = True
            if request:  # tolerate stray empty lines between requests
                started = time.perf_counter()
                answer = service.answer(request)
                service.latency.observe(time.perf_counter() - started)
                self.transport.write(answer)
        if self.buffer.startswith(b"\n"):  # stray empty lines begin no request
            self.buffer = bytearray(self.buffer.lstrip(b"\n"))
        if len(self.buffer) > MAX_REQUEST_BYTES:
            self.transport.write(service.refuse_malformed("request too large"))
            self.connections.close(self, "too large")
        elif not self.buffer:
            self.connections.now_idle(self)
        elif finished or self.deadline is None:  # a request began in this data
            self.connections.now_busy(self)

    # A client that does not read its answers gets no more of them queued: stop reading.
    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()


class PolicyServer:
    """The listening server, its connections and their limits, and the index refresher."""

    def __init__(
        self, app: Flask, host: str, port: int, name: str | None = None, reuse_port: bool = False
    ):
        self.app = app
        self.host = host
        self.port = port
        self.name = name  # in heartbeats; HOST:PORT of this machine when not given
        self.reuse_port = reuse_port  # several processes listen on the port (SO_REUSEPORT)
        self.heartbeat: Heartbeat | None = None  # once listening, when the name is known
        self.loaded_at = utcnow()
        self.connections = Connections(app.config)
        self._service: PolicyService | None = None
        self.stopping = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.database_down_since: float | None = None
        self.refreshed_at = time.monotonic()  # when the index last matched the database

    @property
    def service(self) -> PolicyService:
        """The service answering from the index; there is one once load_index() has run."""
        if self._service is None:
            raise RuntimeError("the index is not loaded yet")
        return self._service

    # --- the index -------------------------------------------------------------------
    def load_index(self) -> None:
        """Build the index, retrying until the database answers."""
        delay = 1.0
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                loaded_at = utcnow()
                with self.app.app_context():
                    snapshot = policy_index.build(loaded_at)
            except Exception as exc:  # any database error: wait and try again
                log.error("cannot load the list from the database (%s); retrying", exc)
                self.stopping.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            self._service = PolicyService(self.app.config, snapshot)
            self.loaded_at = loaded_at
            self.refreshed_at = time.monotonic()
            log.info(
                "index loaded: %d listings in %.1f s",
                len(snapshot.index),
                time.monotonic() - started,
            )
            return

    def refresh_forever(self) -> None:
        interval = self.app.config["POLICY_REFRESH_SECONDS"]
        while not self.stopping.wait(interval):
            self.refresh_once()

    def refresh_once(self) -> None:
        now = utcnow()
        try:
            with self.app.app_context():
                changed = policy_index.refresh(self.service.snapshot, now)
        except Exception as exc:  # keep answering from the index we have
            if self.heartbeat is not None:
                self.heartbeat.broken()
            if self.database_down_since is None:
                self.database_down_since = time.time()
                log.error("database unreachable (%s); answering from the last index", exc)
            return
        self.refreshed_at = time.monotonic()
        if self.database_down_since is not None:
            log.info(
                "database reachable again after %.0f s", time.time() - self.database_down_since
            )
            self.database_down_since = None
        if changed:
            log.info("index refreshed: %d changed listings", changed)
        if self.heartbeat is not None:
            self.heartbeat.refreshed(now, len(self.service.snapshot.index))

    # --- the network side -------------------------------------------------------------
    async def sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            self.connections.tend(time.monotonic())

    async def serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop.set_exception_handler(self.connections.loop_error)
        self.connections.fit_descriptor_limit()
        server = await self.loop.create_server(
            lambda: PolicyProtocol(self),
            self.host,
            self.port,
            reuse_address=True,
            reuse_port=self.reuse_port or None,
            backlog=ACCEPT_BACKLOG,
        )
        self.port = server.sockets[0].getsockname()[1]
        # Before the first answer, so the start is on record whatever the refresh interval.
        self.heartbeat = Heartbeat(self.app, self.name or default_name(self.port))
        self.heartbeat.refreshed(self.loaded_at, len(self.service.snapshot.index))
        sweeper = asyncio.create_task(self.sweep())
        log.info(
            "policy server %s listening on %s:%d (at most %d connections)",
            self.heartbeat.name,
            self.host,
            self.port,
            self.connections.limit,
        )
        self.ready.set()
        async with server:
            while not self.stopping.is_set():
                await asyncio.sleep(0.2)
        sweeper.cancel()
        for connection in self.connections:
            connection.transport.close()
        self.connections.report_closed()
        log.info(
            "policy server stopped after %d requests (%d rejected, %d malformed)",
            self.service.requests,
            self.service.rejected,
            self.service.malformed,
        )

    def run(self) -> None:
        """Load the index, start the refresher, serve until stop() is called."""
        self.load_index()
        if self._service is None:
            return
        threading.Thread(target=self.refresh_forever, name="index-refresh", daemon=True).start()
        asyncio.run(self.serve())

    def stop(self) -> None:
        self.stopping.set()
