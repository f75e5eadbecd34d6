"""`flask mail test` and `flask dkim keygen`: setting up the mail the worker sends."""

from __future__ import annotations

import os
from pathlib import Path

import click
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from app.cli.common import CommandGroup, InputError
from app.core.clock import utcnow
from app.mail import relay_check, signing
from app.mail.transport import DeliveryError
from config import DKIM_NAME_RE

mail_cli = CommandGroup("mail", help="The mail the worker sends.")
dkim_cli = CommandGroup("dkim", help="DKIM signing of the mail the worker sends.")


@mail_cli.command("test")
@click.argument("address")
def mail_test(address: str) -> None:
    """Send a test message to ADDRESS through the relay and print its reply."""
    try:
        recipient = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InputError(f"{address!r} is not a valid email address: {exc}") from None
    config = current_app.config
    try:
        reply = relay_check.send_test_message(config, recipient, utcnow())
    except DeliveryError as error:
        raise click.ClickException(f"not sent to {recipient}: {error}") from None
    click.echo(f"accepted by {config['MAIL_SERVER']}:{config['MAIL_PORT']}: {reply}")


@dkim_cli.command("keygen")
@click.option("--domain", required=True, help="The signing domain (d=), e.g. example.net.")
@click.option("--selector", required=True, help="The selector (s=), e.g. mail2026.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Key file.")
def dkim_keygen(domain: str, selector: str, output: str) -> None:
    """Write a new private key (mode 0600) and print the DNS record to publish."""
    for option, value in (("--domain", domain), ("--selector", selector)):
        if not DKIM_NAME_RE.match(value):
            raise InputError(f"{option} {value!r}: expected a name such as mail2026 or example.net")
    private_key = signing.new_private_key()
    try:
        # O_EXCL: never overwrite a key that may still sign (or be published).
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{output} exists already: choose another file or remove it") from None
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_key)
    key = signing.DkimKey(domain.lower(), selector.lower(), private_key)
    click.echo(f"Wrote a new RSA key to {Path(output)} (readable by its owner only).")
    click.echo("Publish this DNS record:\n")
    click.echo(signing.zone_line(key))
    click.echo(
        "\nThen set DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE and restart the worker."
    )
