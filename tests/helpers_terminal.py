"""The command line as an operator runs it: a `flask --app wsgi` process of its own, with
its output on a terminal (a pseudo-terminal from Python's `pty`) or on pipes."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import BASE_CONFIG
from tests.helpers_browser import PROJECT_ROOT


def cli_env(database_url: str) -> dict[str, str]:
    """The environment of a command working on `database_url`."""
    return {
        **os.environ,
        "SECRET_KEY": BASE_CONFIG["SECRET_KEY"],
        "PUBLIC_BASE_URL": BASE_CONFIG["PUBLIC_BASE_URL"],
        "DATABASE_URL": database_url,
        "DELIST_ALLOW_NON_GLOBAL_IPS": "true",
    }


def flask_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def run_on_pipes(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The command with its output on pipes, as under cron or in a script."""
    return subprocess.run(
        flask_command(*args),
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def run_on_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """The command with standard output and error on one terminal; its status and all it
    wrote there."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        flask_command(*args),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**env, "COLUMNS": "120"},
        cwd=PROJECT_ROOT,
    )
    os.close(secondary)
    output = bytearray()
    try:
        while True:
            ready, _, _ = select.select([primary], [], [], 120)
            if not ready:
                raise TimeoutError(f"no output for 120 s:\n{output.decode()[-2000:]}")
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the command has ended and closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(primary)
        status = process.wait(timeout=60)
    return status, output.decode()


@contextmanager
def policy_server_process(env: dict[str, str], port: int, *args: str, log: Path):
    """`policy-server` on 127.0.0.1:`port` as a process of its own (its output in `log`),
    listening when the block begins, sent SIGTERM and reaped when it ends."""
    from tests.helpers_browser import stop, wait_for_port

    with log.open("wb") as output:
        process = subprocess.Popen(
            flask_command("policy-server", "--listen", f"127.0.0.1:{port}", *args),
            env=env,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log, name="policy-server")
        yield process
    finally:
        stop(process)


def child_pids(pid: int) -> set[int]:
    """The processes `pid` started that are still there."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(text) for text in children.read_text().split()} if children.exists() else set()
