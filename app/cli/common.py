"""What every command shares: one-line errors, the acting user, parsing HOST:PORT, the
lifetime options of commands that list."""

from __future__ import annotations

import getpass
from collections.abc import Callable

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.core.actor import Actor
from app.core.errors import DomainError
from app.listing.addresses import AddressError, IPNetwork, parse_network
from config import MAX_LIFETIME_SECONDS


class InputError(click.ClickException):
    """Bad input from the operator: one line on stderr, exit status 2."""

    exit_code = 2


def host_port(text: str, option: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:10040")
    return host.strip("[]"), int(port)


def cli_actor() -> Actor:
    return Actor(f"cli:{getpass.getuser()}")


def parsed_network(text: str) -> IPNetwork:
    try:
        return parse_network(text)
    except AddressError as exc:
        raise InputError(str(exc)) from None


class CommandGroup(AppGroup):
    """A refusal or database trouble (down, or a schema behind the code) is one clear line."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            raise InputError(str(exc)) from None
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
            raise click.ClickException(
                f"database error: {exc.orig}. Is the database reachable, and is its schema "
                "up to date (flask --app wsgi db upgrade)?"
            ) from None


def lifetime_options(command: Callable[..., None]) -> Callable[..., None]:
    """`--expires-in SECONDS` and `--permanent`, for commands that list networks."""
    command = click.option("--permanent", is_flag=True, help="Never expires (until removed).")(
        command
    )
    return click.option(
        "--expires-in",
        type=click.IntRange(1, MAX_LIFETIME_SECONDS),
        default=None,
        metavar="SECONDS",
        help="Lifetime instead of LISTING_TTL_SECONDS (and of a repeat offender's longer one).",
    )(command)
