"""A policy server's heartbeat: after a successful refresh, when its index is current as of
and how many listings it holds, written to the database (app.listing.enforcement).

Written from the refresh thread in a short transaction of its own, so answers never wait
for it; at most every BEAT_SECONDS of the clock; a database that cannot take it is logged
once and tried again at the next refresh.
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime

from flask import Flask

from app.extensions import db
from app.listing import enforcement
from app.models import EnforcementKind

log = logging.getLogger("delist.policy")

BEAT_SECONDS = 5.0


def default_name(port: int) -> str:
    """This machine and the port: what tells one policy server from another."""
    return f"{socket.gethostname()}:{port}"


class Heartbeat:
    """The heartbeats of one policy server (process), under its name."""

    def __init__(self, app: Flask, name: str):
        self.app = app
        self.name = name
        self.up_since: datetime | None = None  # the first refresh of the unbroken run
        self.last_beat: datetime | None = None
        self.failing = False

    def refreshed(self, at: datetime, listings: int) -> None:
        """The index is current as of `at`: report it when a beat is due."""
        if self.up_since is None:
            self.up_since = at
        elif (
            self.last_beat is not None and 0 <= (at - self.last_beat).total_seconds() < BEAT_SECONDS
        ):
            return
        try:
            with self.app.app_context():
                enforcement.report(
                    self.name,
                    EnforcementKind.POLICY,
                    at,
                    listings,
                    up_since=self.up_since,
                    refresh_seconds=self.app.config["POLICY_REFRESH_SECONDS"],
                )
                db.session.commit()
        except Exception as exc:  # the database is away: answering goes on, try next refresh
            if not self.failing:
                log.error("cannot record the heartbeat of %s (%s)", self.name, exc)
            self.failing = True
            return
        if self.failing:
            log.info("heartbeat of %s recorded again", self.name)
        self.failing = False
        self.last_beat = at

    def broken(self) -> None:
        """A refresh failed: the next one begins a new run."""
        self.up_since = None
