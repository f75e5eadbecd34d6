"""`flask blocklist ...`: list, remove, check, import and export addresses and ranges."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import click
from flask import current_app

from app.cli.common import CommandGroup, InputError, cli_actor, lifetime_options, parsed_network
from app.cli.progress import Bar, progress_bar
from app.core.clock import utcnow
from app.core.errors import Invalid
from app.extensions import db
from app.listing import blocklist, enforcement, exports, importer, lifetimes, totals
from app.listing.addresses import AddressError, parse_address
from app.models import EnforcementKind, EnforcementPoint, Listing

blocklist_cli = CommandGroup("blocklist", help="List, delist and look up addresses and ranges.")


@blocklist_cli.command("add")
@click.argument("networks", nargs=-1, required=True, metavar="ADDRESS_OR_CIDR...")
@click.option("--reason", required=True, help="Why it is listed (shown to the sender).")
@click.option("--notes", default=None, help="Evidence or notes for operators only.")
@lifetime_options
def add_command(
    networks: tuple[str, ...],
    reason: str,
    notes: str | None,
    expires_in: int | None,
    permanent: bool,
) -> None:
    """List one or more addresses or CIDR ranges."""
    lifetime = lifetimes.Asked(expires_in, permanent)
    try:
        reason = blocklist.checked_reason(reason)
    except Invalid:
        limit = blocklist.MAX_REASON_LENGTH
        raise InputError(f"--reason must be 1 to {limit} characters") from None
    parsed = [parsed_network(text) for text in networks]  # all valid, or nothing is written
    now = utcnow()
    results = [
        blocklist.add_listing(n, reason, actor=cli_actor(), now=now, notes=notes, lifetime=lifetime)
        for n in parsed
    ]
    db.session.commit()
    for result in results:
        listing = result.listing
        if not result.created:
            click.echo(f"{listing.network}: already listed since {listing.listed_at.isoformat()}")
        elif listing.expires_at is None:
            click.echo(f"{listing.network}: listed, permanent")
        else:
            click.echo(f"{listing.network}: listed until {listing.expires_at.isoformat()}")


@blocklist_cli.command("remove")
@click.argument("network", metavar="ADDRESS_OR_CIDR")
def remove_command(network: str) -> None:
    """End the listing of exactly this address or range, now."""
    removed = blocklist.remove_listing(parsed_network(network), actor=cli_actor(), now=utcnow())
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
    if listing.expires_at:
        click.echo(f"  expires at {listing.expires_at.isoformat()} unless seen again")


@blocklist_cli.command("list")
def list_command() -> None:
    """Print every active listing: network, listed at, removal at, expires at, reason."""
    columns = (Listing.listed_at, Listing.reason)
    for row in blocklist.active_listings(utcnow(), *columns):
        removal = row.removal_effective_at.isoformat() if row.removal_effective_at else "-"
        expiry = row.expires_at.isoformat() if row.expires_at else "-"
        click.echo(f"{row.network}\t{row.listed_at.isoformat()}\t{removal}\t{expiry}\t{row.reason}")


@blocklist_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--reason", default=None, help="Reason for lines that do not give their own.")
@lifetime_options
def import_command(
    file: BinaryIO, reason: str | None, expires_in: int | None, permanent: bool
) -> None:
    """Import addresses and ranges: a plain list (one per line, # comments) or a CSV
    with a `network` column (and optional `reason`, `notes`, `expires_in`). Bad lines are
    reported and skipped; the rest goes in as one transaction."""
    data = file.read()
    with progress_bar("Importing", _line_count(data), "lines") as progress:
        report = importer.import_listings(
            _advancing(importer.read_entries(importer.decode(data)), progress),
            reason=reason,
            actor=cli_actor(),
            now=utcnow(),
            clock=utcnow,
            lifetime=lifetimes.Asked(expires_in, permanent),
        )
    db.session.commit()
    importer.refresh_statistics_if_needed(report)
    db.session.commit()
    for line_no, text, why in report.rejected:
        click.echo(f"line {line_no}: {text}: {why}", err=True)
    click.echo(report.summary())


def _line_count(data: bytes) -> int:
    """Lines in a file, ended by LF, CRLF or a lone CR (importer.decode reads all three)."""
    return max(data.count(b"\n"), data.count(b"\r")) + (not data.endswith((b"\n", b"\r")))


LINES_PER_STEP = 1000


def _advancing(entries: Iterable[importer.Entry], bar: Bar | None) -> Iterator[importer.Entry]:
    """The entries, moving the bar on every LINES_PER_STEP lines; at the last, the bar ends
    (writing the rows and the audit's log line come after)."""
    done = 0
    for entry in entries:
        if bar is not None and entry.line_no - done >= LINES_PER_STEP:
            bar(entry.line_no - done)
            done = entry.line_no
        yield entry
    if bar is not None:
        bar.finish()


@blocklist_cli.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(exports.FORMATS), default="csv", show_default=True
)
@click.option(
    "--output",
    default="-",
    help="File to write (replaced atomically); '-' for standard output (not for rbldnsd).",
)
@click.option(
    "--name",
    default=None,
    help="For rbldnsd and postfix-cidr, the name this copy of the list reports under "
    "(default HOST:OUTPUT).",
)
def export_command(fmt: str, output: str, name: str | None) -> None:
    """Export the active list: rbldnsd datasets, a Postfix cidr: table, or CSV.

    rbldnsd writes the IPv4 dataset (ip4set) to OUTPUT and the IPv6 dataset
    (ip6trie) to OUTPUT.ip6.
    """
    now = utcnow()
    if name is not None and not 0 < len(name) <= EnforcementPoint.NAME_LENGTH:
        raise InputError(f"--name must be 1 to {EnforcementPoint.NAME_LENGTH} characters")
    if output == "-" and fmt == "rbldnsd":
        raise InputError("--format rbldnsd writes two files: give --output FILE")
    # Listings written to the terminal itself would run through the bar.
    shown = output != "-" or not sys.stdout.isatty()
    with progress_bar("Exporting", totals.unfinalised(), "listings", shown=shown) as progress:
        counts, where = _export(fmt, output, now, progress)
    if fmt in EXPORTED_COPIES:  # a copy mail servers refuse by: it reports its time
        kind = EnforcementKind(fmt)
        enforcement.report(_copy_name(name, output), kind, now, counts[4] + counts[6], up_since=now)
        db.session.commit()
    click.echo(f"exported {counts[4]} IPv4 and {counts[6]} IPv6 listings to {where}", err=True)


EXPORTED_COPIES = (EnforcementKind.RBLDNSD, EnforcementKind.POSTFIX_CIDR)


def _copy_name(name: str | None, output: str) -> str:
    """The name an export reports under: --name, or this host and the file."""
    where = "stdout" if output == "-" else str(Path(output).absolute())
    return (name or f"{socket.gethostname()}:{where}")[: EnforcementPoint.NAME_LENGTH]


def _export(
    fmt: str, output: str, now: datetime, progress: Bar | None
) -> tuple[dict[int, int], str]:
    """Write the export; the counts per IP version and where they went."""
    config = current_app.config
    if output == "-":
        return exports.write(
            fmt, click.open_file("-", "w"), now, config, progress
        ), "standard output"
    path = Path(output)
    try:
        counts = exports.export(fmt, path, now, config, progress)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    return counts, f"{path} and {exports.ip6_path(path)}" if fmt == "rbldnsd" else str(path)
