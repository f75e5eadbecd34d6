"""Serving `policy-server`: one process, or several on one port under a supervisor."""

from __future__ import annotations

import signal
import socket

import click
from flask import Flask

from app.cli.common import InputError, host_port
from app.cli.metrics import serve_metrics
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


def serve(
    app: Flask,
    host: str,
    port: int,
    name: str | None,
    reuse_port: bool = False,
    metrics: str | None = None,
) -> None:
    """One policy server in this process, until SIGTERM or SIGINT; its metrics on `metrics`
    (HOST:PORT) when given."""
    server = PolicyServer(app, host, port, name=name, reuse_port=reuse_port)
    if metrics:
        from app.policy.metrics import PolicyMetrics

        serve_metrics(metrics, PolicyMetrics(server))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop())
    server.run()


def nth_address(listen: str, number: int) -> str:
    """Process `number` (from 1) of several serves its metrics on the port `number - 1` above."""
    host, _, port = listen.rpartition(":")
    return f"{host}:{int(port) + number - 1}"


def _check_free(listen: str) -> None:
    host, port = host_port(listen, "--metrics-listen")
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {listen} for metrics: {exc.strerror}"
        ) from None


def serve_processes(
    app: Flask, host: str, port: int, name: str | None, count: int, metrics: str | None = None
) -> None:
    """`count` policy servers sharing the port, each reporting as NAME#N, and each with its
    metrics on a port of its own: `metrics`'s port for #1, the next for #2, and so on."""
    if metrics:
        host_port(metrics, "--metrics-listen")  # as given, before the ports above it
        for number in range(1, count + 1):
            _check_free(nth_address(metrics, number))  # one line in the parent, before any fork
    holding = reserve(host, port)
    port = holding.getsockname()[1]
    base = name or default_name(port)

    def child(number: int) -> None:
        with app.app_context():
            db.engine.dispose(close=False)  # never share the parent's connections
        serve(
            app,
            host,
            port,
            f"{base}#{number}",
            reuse_port=True,
            metrics=nth_address(metrics, number) if metrics else None,
        )

    click.echo(f"policy server: {count} processes on {host}:{port}", err=True)
    Supervisor(count, child, holding).run()
