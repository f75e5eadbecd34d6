"""`flask apikey ...`: keys for the write API (spam traps, filters, log watchers)."""

from __future__ import annotations

import click

from app.accounts import api_keys
from app.cli.common import CommandGroup, cli_actor
from app.core.clock import utcnow
from app.extensions import db
from app.models import API_SCOPES

apikey_cli = CommandGroup("apikey", help="Keys for the write API.")


@apikey_cli.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    type=click.Choice(API_SCOPES),
    multiple=True,
    required=True,
    help="What the key may do; repeat for several (listings:write includes reading).",
)
def create_command(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key and print it once: only its hash is kept."""
    api_key, secret = api_keys.create(name, scopes, actor=cli_actor(), now=utcnow())
    db.session.commit()
    # The key alone on stdout, so `KEY=$(flask --app wsgi apikey create ...)` works.
    click.echo(f"created API key {api_key.name} ({', '.join(api_key.scope_list)})", err=True)
    click.echo(secret)
    click.echo("Store it now: it cannot be shown again.", err=True)


@apikey_cli.command("list")
def list_command() -> None:
    """Every key, tab-separated: name, scopes, created, last used, state."""
    for api_key in api_keys.all_keys():
        last = api_key.last_used_at.isoformat() if api_key.last_used_at else "never"
        state = (
            "active"
            if api_key.revoked_at is None
            else f"revoked {api_key.revoked_at.isoformat()} by {api_key.revoked_by}"
        )
        click.echo(
            f"{api_key.name}\t{','.join(api_key.scope_list)}\t"
            f"created {api_key.created_at.isoformat()} by {api_key.created_by}\t"
            f"last used {last}\t{state}"
        )


@apikey_cli.command("revoke")
@click.argument("name")
@click.option("--reason", default=None, help="Why, for the audit log.")
def revoke_command(name: str, reason: str | None) -> None:
    """Revoke a key: it stops working at once."""
    api_key = api_keys.get(name)
    api_keys.revoke(api_key, actor=cli_actor(), now=utcnow(), why=reason)
    db.session.commit()
    click.echo(f"revoked {api_key.name}")
