"""Running scripts/run-demo in a copy of the checkout whose programs are stand-ins: flask's
set-up commands succeed at once, its servers and gunicorn wait like servers do, and each
records that it ran and its process id."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import config
from tests.helpers import free_port

# $STUB_LOG gets one line per program run; $STUB_PIDS the process id of each server.
STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "$STUB_LOG"
case "$(basename "$0") $*" in
  gunicorn*|*" mail-sink"*|*" worker"*|*" policy-server"*)
    echo $$ >> "$STUB_PIDS"
    [ "$(basename "$0")" = gunicorn ] && [ -n "${STUB_GUNICORN_FAILS:-}" ] && exit 1
    exec sleep 60 ;;
esac
exit 0
"""
BANNER_END = "Stop with Ctrl-C."


def demo_checkout(folder: Path) -> Path:
    """The script, the Makefile and pyproject.toml, with stand-ins in .venv/bin."""
    (folder / "scripts").mkdir()
    shutil.copy(config.PROJECT_ROOT / "scripts" / "run-demo", folder / "scripts" / "run-demo")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(config.PROJECT_ROOT / name, folder / name)
    bin_dir = folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    for name in ("flask", "gunicorn", "pybabel"):
        (bin_dir / name).write_text(STUB)
        (bin_dir / name).chmod(0o755)
    (folder / ".venv" / ".installed").touch()  # newer than pyproject.toml: make installs nothing
    return folder


def demo_env(checkout: Path, **settings: str) -> dict[str, str]:
    """Free ports for the demo, unless given."""
    ports = {name: str(free_port()) for name in ("PORT", "POLICY_PORT", "MAIL_SINK_PORT")}
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(checkout),
        "STUB_LOG": str(checkout / "stub.log"),
        "STUB_PIDS": str(checkout / "stub.pids"),
        **ports,
        **settings,
    }


def start_demo(checkout: Path, env: dict[str, str], command=("bash", "scripts/run-demo")):
    """Start the demo (in a session of its own, as a terminal would) and wait for its banner."""
    process = subprocess.Popen(
        command,
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if BANNER_END in line:
            return process
    raise AssertionError(f"the demo did not start: {process.communicate(timeout=30)[1]}")


def run_demo_once(checkout: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the demo to its end (one refused at the start ends by itself)."""
    return subprocess.run(
        ["bash", "scripts/run-demo"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )


def server_pids(checkout: Path, expected: int = 0) -> list[int]:
    """The servers' process ids, once `expected` of them have started (within 30 s)."""
    path = checkout / "stub.pids"
    deadline = time.monotonic() + 30
    while True:
        pids = [int(line) for line in path.read_text().split()] if path.exists() else []
        if len(pids) >= expected or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def clean_up(checkout: Path, processes: list[subprocess.Popen[str]]) -> None:
    """Stop what a failed test left running."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    for pid in server_pids(checkout):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its parent to read its status does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status
