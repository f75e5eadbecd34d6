"""The README documents every setting and every command (so it stays true as they grow)."""

import click

import config

README = (config.PROJECT_ROOT / "README.md").read_text()
EXAMPLE = (config.PROJECT_ROOT / ".env.example").read_text()


def test_every_setting_is_in_the_readme_table_and_the_example():
    missing = [
        name
        for name in config.SETTINGS
        if f"| `{name}`" not in README and f"`{name}`" not in README
    ]
    assert not missing, f"settings missing from the README: {missing}"
    undocumented = [
        name for name in config.SETTINGS if name not in EXAMPLE and name not in {"DEV_MAILBOX_DIR"}
    ]
    assert all(f"{name}" in EXAMPLE for name in config.SETTINGS if name != "DEV_MAILBOX_DIR"), (
        undocumented
    )


def test_every_cli_command_is_in_the_readme(bare_app):
    ours = {
        "blocklist",
        "operator",
        "apikey",
        "worker",
        "mail",
        "dkim",
        "mail-sink",
        "policy-server",
    }
    names = []
    for name, command in bare_app.cli.commands.items():
        if name not in ours:
            continue
        if isinstance(command, click.Group):
            names += [f"{name} {sub}" for sub in command.commands]
        else:
            names.append(name)
    missing = [name for name in names if f"`{name}" not in README]
    assert len(names) >= 14
    assert not missing, f"commands missing from the README: {missing}"
