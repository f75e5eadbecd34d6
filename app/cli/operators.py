"""`flask operator ...`: operator accounts for the admin site."""

from __future__ import annotations

import click
import sqlalchemy as sa

from app.accounts import operators
from app.cli.common import CommandGroup, InputError, cli_actor
from app.core.clock import utcnow
from app.extensions import db
from app.models import OPERATOR_ROLES, Operator

operator_cli = CommandGroup("operator", help="Operator accounts for the admin site.")


@operator_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(OPERATOR_ROLES), default="viewer", show_default=True)
@click.option("--generate", is_flag=True, help="Make up a strong password and print it.")
def operator_create(email: str, role: str, generate: bool) -> None:
    """Create an operator; asks for the password twice unless --generate."""
    if operators.find(email) is not None:
        raise InputError(f"an operator {operators.normalise_email(email)} exists already")
    password = _new_password(generate)
    operator = operators.create(email, password, role, actor=cli_actor(), now=utcnow())
    db.session.commit()
    _say_done(f"created {operator.email} ({operator.role})", password, generate)


def _new_password(generate: bool) -> str:
    """A made-up strong password, or one asked twice and checked against the rules
    (a refusal ends the command with exit status 2, as every domain error does)."""
    if generate:
        return operators.generate_password()
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    operators.check_password_rules(password)
    return password


def _say_done(message: str, password: str, generated: bool) -> None:
    click.echo(message)
    if generated:  # shown once: the database keeps only its hash
        click.echo(f"password: {password}")


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
    operator = operators.get(email)
    password = _new_password(generate)
    operators.set_password(operator, password, actor=cli_actor(), now=utcnow())
    db.session.commit()
    _say_done(f"password changed for {operator.email}", password, generate)


@operator_cli.command("disable")
@click.argument("email")
def operator_disable(email: str) -> None:
    """Disable an operator and end their sessions."""
    operator = operators.get(email)
    operators.disable(operator, actor=cli_actor(), now=utcnow())
    db.session.commit()
    click.echo(f"disabled {operator.email}")


@operator_cli.command("enable-totp")
@click.argument("email")
def operator_enable_totp(email: str) -> None:
    """Require a TOTP code at login; prints the secret and the otpauth:// URI."""
    operator = operators.get(email)
    uri = operators.enable_totp(operator, actor=cli_actor(), now=utcnow())
    db.session.commit()
    click.echo(f"secret: {operator.totp_secret}")
    click.echo(f"uri: {uri}")
    click.echo("Add it to an authenticator app; the next login asks for a code.")
