"""The edges that are not web pages: `flask --app wsgi blocklist|operator|worker|...`.

An edge like the blueprints: commands (and the worker's loop) parse input, call the
domain packages, and commit. Nothing outside app/cli imports from here.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from app.cli.allowlist import allowlist_cli
    from app.cli.api_keys import apikey_cli
    from app.cli.blocklist import blocklist_cli
    from app.cli.mail import dkim_cli, mail_cli
    from app.cli.operators import operator_cli
    from app.cli.servers import mail_sink_command, policy_server_command, worker_command

    app.cli.add_command(blocklist_cli)
    app.cli.add_command(allowlist_cli)
    app.cli.add_command(operator_cli)
    app.cli.add_command(apikey_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(dkim_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(mail_sink_command)
    app.cli.add_command(policy_server_command)
