"""The shipped systemd units (`contrib/systemd/`) pass `systemd-analyze verify` and keep
their hardening. The units name the checkout `/srv/delist-portal`; the test places them
in a temporary checkout, with the programs they start, and verifies them there."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers_mta import require

UNITS = Path(__file__).resolve().parent.parent / "contrib" / "systemd"
NAMES = ["delist-portal.service", "delist-portal-worker.service", "delist-portal-policy.service"]
CHECKOUT = "/srv/delist-portal"
HARDENING = [
    "User=delist",
    "EnvironmentFile=/etc/delist-portal.env",
    "Restart=on-failure",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "CapabilityBoundingSet=\n",
]


def placed(name: str, root: Path) -> Path:
    """The unit, its checkout moved to `root`, where its programs exist."""
    text = (UNITS / name).read_text()
    assert CHECKOUT in text, f"{name} no longer names {CHECKOUT}: update this test"
    for program in ("gunicorn", "flask"):
        path = root / ".venv" / "bin" / program
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    unit = root / name
    unit.write_text(text.replace(CHECKOUT, str(root)))
    return unit


def systemd_analyze(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SYSTEMD_LOG_COLOR": "0"}
    return subprocess.run(
        [require("systemd-analyze"), *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize("name", NAMES)
def test_each_unit_passes_systemd_analyze_verify_without_a_warning(name, tmp_path):
    result = systemd_analyze("verify", str(placed(name, tmp_path)))
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_verify_would_see_a_broken_unit(tmp_path):
    """The check above can fail: a misspelt setting or a missing program is reported."""
    unit = placed(NAMES[0], tmp_path)
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=strictly"))
    assert "strictly" in systemd_analyze("verify", str(unit)).stderr
    (tmp_path / ".venv" / "bin" / "gunicorn").unlink()
    assert systemd_analyze("verify", str(unit)).returncode != 0


@pytest.mark.parametrize("name", NAMES)
def test_each_unit_runs_as_its_own_user_in_a_sandbox(name, tmp_path):
    text = (UNITS / name).read_text()
    missing = [line.strip() for line in HARDENING if line not in text]
    assert not missing, missing
    # systemd's own rating of the sandbox, 0 (tight) to 10 (none); 2.0 and below is "OK".
    rating = systemd_analyze(
        "security", "--offline=yes", "--threshold=20", str(placed(name, tmp_path))
    )
    assert rating.returncode == 0, rating.stdout[-2000:]


def test_the_web_unit_uses_the_checkouts_gunicorn_settings():
    """gunicorn.conf.py keeps confirmation links out of the access log."""
    text = (UNITS / NAMES[0]).read_text()
    assert f"--config {CHECKOUT}/gunicorn.conf.py" in text
    assert f"WorkingDirectory={CHECKOUT}" in text


def test_the_policy_unit_lets_its_parent_process_stop_the_others():
    """policy-server runs a process per core: SIGTERM goes to the parent, which passes it
    on and waits; a stop signal to every process at once would race with its restarts."""
    text = (UNITS / NAMES[2]).read_text()
    assert "KillMode=mixed" in text
    assert "TimeoutStopSec=30" in text


def test_the_worker_and_the_policy_service_serve_metrics_on_loopback_ports_of_their_own(
    bare_app,
):
    listening = {}
    for name, command in (
        ("delist-portal-worker.service", "worker"),
        ("delist-portal-policy.service", "policy-server"),
    ):
        exec_start = (UNITS / name).read_text().replace("\\\n", " ")
        match = re.search(r"^ExecStart=.* --metrics-listen (\S+)", exec_start, re.M)
        assert match, f"{name} serves no metrics"
        options = {opt for param in bare_app.cli.commands[command].params for opt in param.opts}
        assert "--metrics-listen" in options
        listening[name] = match.group(1)
    assert all(address.startswith("127.0.0.1:") for address in listening.values())
    assert len(set(listening.values())) == 2, listening
