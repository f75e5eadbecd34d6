"""The long-running processes: the worker, the demo's mail sink, the policy service."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from app.cli import worker
from app.cli.common import InputError, host_port
from app.cli.metrics import WorkerMetrics, serve_metrics
from app.core.clock import utcnow
from app.extensions import db


def metrics_listen_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--metrics-listen",
        metavar="HOST:PORT",
        default=None,
        help="Serve Prometheus metrics over HTTP there (e.g. 127.0.0.1:9101).",
    )(command)


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Do one pass and exit.")
@click.option(
    "--interval", type=click.IntRange(1, 3600), default=None, help="Seconds between passes."
)
@metrics_listen_option
def worker_command(once: bool, interval: int | None, metrics_listen: str | None) -> None:
    """Deliver mail, finalise due removals and expire stale requests."""
    interval = interval or current_app.config["WORKER_POLL_SECONDS"]
    if once:
        if metrics_listen:
            raise InputError("--metrics-listen serves the loop's figures: leave out --once")
        click.echo(str(worker.run_once(utcnow())))
        return
    figures = WorkerMetrics(current_app._get_current_object())  # type: ignore[attr-defined]
    if metrics_listen:
        serve_metrics(metrics_listen, figures)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    current_app.logger.info("worker started, a pass every %s s", interval)
    while not stop.is_set():
        try:
            report = worker.run_once(utcnow())
            figures.passed(report)
            if (
                report.delivery.sent
                or report.removals_finalised
                or report.listings_expired
                or report.requests_expired
            ):
                current_app.logger.info("worker pass: %s", report)
        except sa.exc.OperationalError as exc:
            # The database is away; keep the worker alive and try again next pass.
            db.session.rollback()
            figures.failed()
            current_app.logger.error("worker pass failed: %s", exc.orig)
        db.session.remove()
        stop.wait(interval)
    current_app.logger.info("worker stopped")


@click.command("mail-sink")
@with_appcontext
@click.option("--listen", default="127.0.0.1:8025", show_default=True, help="HOST:PORT")
@click.option("--mailbox", default=None, help="Folder for received mail (default DEV_MAILBOX_DIR).")
def mail_sink_command(listen: str, mailbox: str | None) -> None:
    """Run a local SMTP server that keeps every message (for trying the portal)."""
    from app.mail.devmail import run_sink

    host, port = host_port(listen, "--listen")
    folder = mailbox or current_app.config.get("DEV_MAILBOX_DIR")
    if not folder:
        raise InputError("give --mailbox DIR or set DEV_MAILBOX_DIR")
    run_sink(host, port, folder)


@click.command("policy-server")
@click.option("--listen", default="127.0.0.1:10040", show_default=True, help="HOST:PORT")
@click.option(
    "--check",
    metavar="HOST:PORT",
    default=None,
    help="Instead of serving, ask the service there RFC 5782's test questions; exit 0 if right.",
)
@click.option(
    "--name",
    default=None,
    help="The name its heartbeat reports under (default HOST:PORT; with several processes, "
    "each adds #1, #2, ...).",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 256),
    default=None,
    help="Processes answering on the port, each with its own index (default: one per core).",
)
@metrics_listen_option
@with_appcontext
def policy_server_command(
    listen: str,
    check: str | None,
    name: str | None,
    processes: int | None,
    metrics_listen: str | None,
) -> None:
    """Answer Postfix policy requests (check_policy_service) from an in-memory index."""
    from app.cli import policy_serving
    from app.policy.processes import default_count

    if check is not None:
        check_policy_service(check)
        return
    host, port = host_port(listen, "--listen")
    name = policy_serving.checked_name(name)
    count = processes or default_count()
    # The app itself, for the server's threads; Flask types current_app as the app, not its proxy.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        if count == 1:
            policy_serving.serve(app, host, port, name, metrics=metrics_listen)
        else:
            policy_serving.serve_processes(app, host, port, name, count, metrics=metrics_listen)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {listen}: {exc.strerror}") from None


def check_policy_service(address: str) -> None:
    """One line either way; exit 1 when an answer is wrong or nothing answers."""
    from app.policy.check import problem
    from app.policy.rfc5782 import ALWAYS_LISTED, NEVER_LISTED_ADDRESS

    host, port = host_port(address, "--check")
    wrong = problem(host, port)
    if wrong is not None:
        raise click.ClickException(f"policy service at {address}: {wrong}")
    click.echo(
        f"policy service at {address}: {ALWAYS_LISTED} refused, "
        f"{NEVER_LISTED_ADDRESS} let through: OK"
    )
