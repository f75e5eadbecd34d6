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
        operator = operators.create(email, password, role, actor=cli_actor(), now=utcnow())
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
        operators.set_password(operator, password, actor=cli_actor(), now=utcnow())
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
    operators.disable(operator, actor=cli_actor(), now=utcnow())
    db.session.commit()
    click.echo(f"disabled {operator.email}")


@operator_cli.command("enable-totp")
@click.argument("email")
def operator_enable_totp(email: str) -> None:
    """Require a TOTP code at login; prints the secret and the otpauth:// URI."""
    operator = _existing_operator(email)
    uri = operators.enable_totp(operator, actor=cli_actor(), now=utcnow())
    db.session.commit()
    click.echo(f"secret: {operator.totp_secret}")
    click.echo(f"uri: {uri}")
    click.echo("Add it to an authenticator app; the next login asks for a code.")
