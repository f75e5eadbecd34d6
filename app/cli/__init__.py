"""Command-line interface: `flask --app wsgi blocklist|worker|mail-sink ...`."""

from __future__ import annotations

import getpass
import signal
import threading
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from app.accounts import operators
from app.cli import worker
from app.core.actor import Actor
from app.core.clock import utcnow
from app.core.errors import Invalid
from app.extensions import db
from app.listing import blocklist, exports, importer
from app.listing.addresses import AddressError, parse_address, parse_network
from app.models import OPERATOR_ROLES, Listing, Operator


class InputError(click.ClickException):
    """Bad input from the operator: one line on stderr, exit status 2."""

    exit_code = 2


def _host_port(text: str, option: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:10040")
    return host.strip("[]"), int(port)


def _actor() -> Actor:
    return Actor(f"cli:{getpass.getuser()}")


def _network(text: str):
    try:
        return parse_network(text)
    except AddressError as exc:
        raise InputError(str(exc)) from None


class CommandGroup(AppGroup):
    """Database trouble (down, or a schema behind the code) is one clear line, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
            raise click.ClickException(
                f"database error: {exc.orig}. Is the database reachable, and is its schema "
                "up to date (flask --app wsgi db upgrade)?"
            ) from None


blocklist_cli = CommandGroup("blocklist", help="List, delist and look up addresses and ranges.")


@blocklist_cli.command("add")
@click.argument("networks", nargs=-1, required=True, metavar="ADDRESS_OR_CIDR...")
@click.option("--reason", required=True, help="Why it is listed (shown to the sender).")
@click.option("--notes", default=None, help="Evidence or notes for operators only.")
def add_command(networks: tuple[str, ...], reason: str, notes: str | None) -> None:
    """List one or more addresses or CIDR ranges."""
    try:
        reason = blocklist.checked_reason(reason)
    except Invalid:
        limit = blocklist.MAX_REASON_LENGTH
        raise InputError(f"--reason must be 1 to {limit} characters") from None
    parsed = [_network(text) for text in networks]  # all valid, or nothing is written
    now = utcnow()
    results = [
        blocklist.add_listing(n, reason, actor=_actor(), now=now, notes=notes) for n in parsed
    ]
    db.session.commit()
    for result in results:
        state = "listed" if result.created else "already listed since"
        when = "" if result.created else " " + result.listing.listed_at.isoformat()
        click.echo(f"{result.listing.network}: {state}{when}")


@blocklist_cli.command("remove")
@click.argument("network", metavar="ADDRESS_OR_CIDR")
def remove_command(network: str) -> None:
    """End the listing of exactly this address or range, now."""
    removed = blocklist.remove_listing(_network(network), actor=_actor(), now=utcnow())
    if removed is None:
        raise click.ClickException(f"{network} is not listed (exactly this network)")
    db.session.commit()
    click.echo(f"{removed.network}: removed")


@blocklist_cli.command("check")
@click.argument("ip")
def check_command(ip: str) -> None:
    """Say whether IP is listed now. Exit 0 when listed, 1 when not."""
    try:
        address = parse_address(ip)
    except AddressError as exc:
        raise InputError(str(exc)) from None
    now = utcnow()
    listing = blocklist.find_listing(address, now)
    if listing is None:
        click.echo(f"{address} is not listed")
        raise SystemExit(1)
    click.echo(f"{address} is listed by {listing.network} since {listing.listed_at.isoformat()}")
    click.echo(f"  reason: {listing.reason}")
    if listing.removal_effective_at:
        click.echo(f"  removal scheduled at {listing.removal_effective_at.isoformat()}")


@blocklist_cli.command("list")
def list_command() -> None:
    """Print every active listing: network, listed at, removal at, reason."""
    columns = (Listing.listed_at, Listing.reason)
    for row in blocklist.active_listings(utcnow(), *columns):
        removal = row.removal_effective_at.isoformat() if row.removal_effective_at else "-"
        click.echo(f"{row.network}\t{row.listed_at.isoformat()}\t{removal}\t{row.reason}")


@blocklist_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--reason", default=None, help="Reason for lines that do not give their own.")
def import_command(file, reason: str | None) -> None:
    """Import addresses and ranges: a plain list (one per line, # comments) or a CSV
    with a `network` column (and optional `reason`, `notes`). Bad lines are reported
    and skipped; the rest goes in as one transaction."""
    report = importer.import_listings(
        importer.read_entries(importer.decode(file.read())),
        reason=reason,
        actor=_actor(),
        now=utcnow(),
        clock=utcnow,
    )
    db.session.commit()
    importer.refresh_statistics_if_needed(report)
    db.session.commit()
    for line_no, text, why in report.rejected:
        click.echo(f"line {line_no}: {text}: {why}", err=True)
    click.echo(report.summary())


@blocklist_cli.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(exports.FORMATS), default="csv", show_default=True
)
@click.option(
    "--output",
    default="-",
    help="File to write (replaced atomically); '-' for standard output (not for rbldnsd).",
)
def export_command(fmt: str, output: str) -> None:
    """Export the active list: rbldnsd datasets, a Postfix cidr: table, or CSV.

    rbldnsd writes the IPv4 dataset (ip4set) to OUTPUT and the IPv6 dataset
    (ip6trie) to OUTPUT.ip6.
    """
    now = utcnow()
    if output == "-":
        if fmt == "rbldnsd":
            raise InputError("--format rbldnsd writes two files: give --output FILE")
        counts = exports.write(fmt, click.get_text_stream("stdout"), now, current_app.config)
        where = "standard output"
    else:
        path = Path(output)
        try:
            counts = exports.export(fmt, path, now, current_app.config)
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
        where = f"{path} and {exports.ip6_path(path)}" if fmt == "rbldnsd" else str(path)
    click.echo(f"exported {counts[4]} IPv4 and {counts[6]} IPv6 listings to {where}", err=True)


operator_cli = CommandGroup("operator", help="Operator accounts for the admin site.")


def _operator_error(exc: Exception) -> InputError:
    return InputError(str(exc))


def _existing_operator(email: str) -> Operator:
    try:
        return operators.get(email)
    except operators.OperatorError as exc:
        raise _operator_error(exc) from None


@operator_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(OPERATOR_ROLES), default="viewer", show_default=True)
@click.option("--generate", is_flag=True, help="Make up a strong password and print it.")
def operator_create(email: str, role: str, generate: bool) -> None:
    """Create an operator; asks for the password twice unless --generate."""
    if operators.find(email) is not None:
        raise InputError(f"an operator {operators.normalise_email(email)} exists already")
    password = operators.generate_password() if generate else _ask_password()
    try:
        operator = operators.create(email, password, role, actor=_actor(), now=utcnow())
    except operators.OperatorError as exc:
        raise _operator_error(exc) from None
    db.session.commit()
    click.echo(f"created {operator.email} ({operator.role})")
    if generate:
        click.echo(f"password: {password}")


def _ask_password() -> str:
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        operators.check_password_rules(password)
    except operators.OperatorError as exc:
        raise _operator_error(exc) from None
    return password


@operator_cli.command("list")
def operator_list() -> None:
    """Every operator: email, role, active, second factor, last login."""
    for op in db.session.scalars(sa.select(Operator).order_by(Operator.email)):
        last = op.last_login_at.isoformat() if op.last_login_at else "never"
        state = "active" if op.active else "disabled"
        totp = "totp" if op.totp_secret else "no-totp"
        click.echo(f"{op.email}\t{op.role}\t{state}\t{totp}\tlast login {last}")


@operator_cli.command("set-password")
@click.argument("email")
@click.option("--generate", is_flag=True, help="Make up a strong password and print it.")
def operator_set_password(email: str, generate: bool) -> None:
    """Set a new password (ends the operator's sessions)."""
    operator = _existing_operator(email)
    password = operators.generate_password() if generate else _ask_password()
    try:
        operators.set_password(operator, password, actor=_actor(), now=utcnow())
    except operators.OperatorError as exc:
        raise _operator_error(exc) from None
    db.session.commit()
    click.echo(f"password changed for {operator.email}")
    if generate:
        click.echo(f"password: {password}")


@operator_cli.command("disable")
@click.argument("email")
def operator_disable(email: str) -> None:
    """Disable an operator and end their sessions."""
    operator = _existing_operator(email)
    operators.disable(operator, actor=_actor(), now=utcnow())
    db.session.commit()
    click.echo(f"disabled {operator.email}")


@operator_cli.command("enable-totp")
@click.argument("email")
def operator_enable_totp(email: str) -> None:
    """Require a TOTP code at login; prints the secret and the otpauth:// URI."""
    operator = _existing_operator(email)
    uri = operators.enable_totp(operator, actor=_actor(), now=utcnow())
    db.session.commit()
    click.echo(f"secret: {operator.totp_secret}")
    click.echo(f"uri: {uri}")
    click.echo("Add it to an authenticator app; the next login asks for a code.")


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Do one pass and exit.")
@click.option(
    "--interval", type=click.IntRange(1, 3600), default=None, help="Seconds between passes."
)
def worker_command(once: bool, interval: int | None) -> None:
    """Deliver mail, finalise due removals and expire stale requests."""
    interval = interval or current_app.config["WORKER_POLL_SECONDS"]
    if once:
        click.echo(str(worker.run_once(utcnow())))
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    current_app.logger.info("worker started, a pass every %s s", interval)
    while not stop.is_set():
        try:
            report = worker.run_once(utcnow())
            if report.delivery.sent or report.removals_finalised or report.requests_expired:
                current_app.logger.info("worker pass: %s", report)
        except sa.exc.OperationalError as exc:
            # The database is away; keep the worker alive and try again next pass.
            db.session.rollback()
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

    host, port = _host_port(listen, "--listen")
    folder = mailbox or current_app.config.get("DEV_MAILBOX_DIR")
    if not folder:
        raise InputError("give --mailbox DIR or set DEV_MAILBOX_DIR")
    run_sink(host, port, folder)


@click.command("policy-server")
@click.option("--listen", default="127.0.0.1:10040", show_default=True, help="HOST:PORT")
@with_appcontext
def policy_server_command(listen: str) -> None:
    """Answer Postfix policy requests (check_policy_service) from an in-memory index."""
    from app.policy.server import PolicyServer

    host, port = _host_port(listen, "--listen")
    server = PolicyServer(current_app._get_current_object(), host, port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop())
    try:
        server.run()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {listen}: {exc.strerror}") from None


def register(app: Flask) -> None:
    app.cli.add_command(blocklist_cli)
    app.cli.add_command(operator_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(mail_sink_command)
    app.cli.add_command(policy_server_command)
