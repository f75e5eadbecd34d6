"""`flask allowlist ...`: the networks no path may list (the operator's own mail servers)."""

from __future__ import annotations

import click

from app.cli.common import CommandGroup, InputError, cli_actor, parsed_network
from app.core.clock import utcnow
from app.extensions import db
from app.listing import allowlist

allowlist_cli = CommandGroup("allowlist", help="Networks that may never be listed.")


@allowlist_cli.command("add")
@click.argument("network", metavar="ADDRESS_OR_CIDR")
@click.option("--reason", required=True, help="Why it must never be listed.")
def add_command(network: str, reason: str) -> None:
    """Allowlist an address or range: no path may list anything that overlaps it."""
    parsed = parsed_network(network)
    now = utcnow()
    entry = allowlist.add(parsed, reason, actor=cli_actor(), now=now)
    db.session.commit()
    click.echo(f"{entry.network}: allowlisted")
    for listing in allowlist.overlapping_listings(parsed, now):
        click.echo(
            f"still listed: {listing.network} ({listing.reason}); "
            f"end it with `blocklist remove {listing.network}`",
            err=True,
        )


@allowlist_cli.command("list")
def list_command() -> None:
    """Every entry, tab-separated: network, added at, added by, reason."""
    for entry in allowlist.entries():
        click.echo(
            f"{entry.network}\t{entry.added_at.isoformat()}\t{entry.added_by}\t{entry.reason}"
        )


@allowlist_cli.command("remove")
@click.argument("network", metavar="ADDRESS_OR_CIDR")
def remove_command(network: str) -> None:
    """Take exactly this address or range off the allowlist."""
    parsed = parsed_network(network)
    entry = allowlist.find(parsed)
    if entry is None:
        raise InputError(f"{parsed} is not on the allowlist (exactly this network)")
    allowlist.remove(entry, actor=cli_actor(), now=utcnow())
    db.session.commit()
    click.echo(f"{parsed}: off the allowlist")
