"""Serving `policy-server`: one process, or several on one port under a supervisor."""

from __future__ import annotations

import signal

import click
from flask import Flask

from app.cli.common import InputError
from app.extensions import db
from app.models import EnforcementPoint
from app.policy.heartbeat import default_name
from app.policy.processes import Supervisor, reserve
from app.policy.server import PolicyServer


def checked_name(name: str | None) -> str | None:
    # Room for the "#N" of a process number.
    if name is not None and not 0 < len(name) <= EnforcementPoint.NAME_LENGTH - 4:
        raise InputError(f"--name must be 1 to {EnforcementPoint.NAME_LENGTH - 4} characters")
    return name


def serve(app: Flask, host: str, port: int, name: str | None, reuse_port: bool = False) -> None:
    """One policy server in this process, until SIGTERM or SIGINT."""
    server = PolicyServer(app, host, port, name=name, reuse_port=reuse_port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop())
    server.run()


def serve_processes(app: Flask, host: str, port: int, name: str | None, count: int) -> None:
    """`count` policy servers sharing the port, each reporting as NAME#N."""
    holding = reserve(host, port)
    port = holding.getsockname()[1]
    base = name or default_name(port)

    def child(number: int) -> None:
        with app.app_context():
            db.engine.dispose(close=False)  # never share the parent's connections
        serve(app, host, port, f"{base}#{number}", reuse_port=True)

    click.echo(f"policy server: {count} processes on {host}:{port}", err=True)
    Supervisor(count, child, holding).run()
