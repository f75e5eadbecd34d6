"""`policy-server --processes N`: several processes answer on one port, each with its own
copy of the list, under a parent that replaces one that dies and stops them all."""

from __future__ import annotations

import os
import re
import signal
import socket
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import EnforcementPoint
from app.policy.check import policy_request
from tests.helpers import add_listings, free_port
from tests.helpers_terminal import child_pids, cli_env, policy_server_process, run_on_pipes

DEADLINE_SECONDS = 60


def eventually(condition, what: str):
    """Poll `condition` until it returns something true (processes start in their own time)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {DEADLINE_SECONDS} s: {what}")


def ask(port: int, address: str) -> bytes:
    """One request on a new connection: the kernel picks the process that takes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(policy_request(address))
        reply = b""
        while not reply.endswith(b"\n\n"):
            chunk = sock.recv(4096)
            assert chunk, "the connection closed without an answer"
            reply += chunk
        return reply


def heartbeats(app) -> dict[str, EnforcementPoint]:
    with app.app_context():
        found = db.session.scalars(sa.select(EnforcementPoint)).all()
        db.session.expunge_all()
        return {point.name: point for point in found}


@pytest.fixture
def env(app, database_url):
    # The processes run on the real clock: listings that do not expire by then.
    add_listings(app, "203.0.113.7", "192.0.2.0/24", permanent=True)
    return cli_env(database_url)


def test_several_processes_answer_on_one_port_each_under_its_own_name(app, env, tmp_path):
    port, log = free_port(), tmp_path / "policy.log"
    with policy_server_process(env, port, "--processes", "3", "--name", "mx", log=log) as parent:
        eventually(lambda: len(child_pids(parent.pid)) == 3, "three processes")
        names = {"mx#1", "mx#2", "mx#3"}
        eventually(lambda: names <= set(heartbeats(app)), f"heartbeats of {names}")
        assert {point.listings for point in heartbeats(app).values()} == {2}
        for _ in range(30):
            assert ask(port, "203.0.113.7").startswith(b"action=550 5.7.606 ")
            assert ask(port, "192.0.2.200").startswith(b"action=550 5.7.606 ")
            assert ask(port, "198.51.100.1") == b"action=DUNNO\n\n"
    served = [int(n) for n in re.findall(r"stopped after (\d+) requests", log.read_text())]
    assert sum(served) == 90
    assert len([n for n in served if n]) >= 2, served  # the kernel spread the connections


def test_sigterm_stops_every_process_and_the_parent_ends_with_status_0(env, tmp_path):
    port, log = free_port(), tmp_path / "policy.log"
    with policy_server_process(env, port, "--processes", "2", log=log) as parent:
        children = eventually(
            lambda: child_pids(parent.pid) if len(child_pids(parent.pid)) == 2 else None,
            "two processes",
        )
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 0
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "all 2 processes ended" in log.read_text()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_a_process_that_dies_is_replaced(app, env, tmp_path):
    port, log = free_port(), tmp_path / "policy.log"
    with policy_server_process(env, port, "--processes", "2", "--name", "mx", log=log) as parent:
        first = eventually(
            lambda: child_pids(parent.pid) if len(child_pids(parent.pid)) == 2 else None,
            "two processes",
        )
        eventually(lambda: {"mx#1", "mx#2"} <= set(heartbeats(app)), "both heartbeats")
        before = heartbeats(app)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        pattern = (
            rf"policy process #(\d) \(pid {victim}\) ended: killed by SIGKILL; starting another"
        )
        number = eventually(lambda: re.search(pattern, log.read_text()), "the restart").group(1)
        now = eventually(
            lambda: child_pids(parent.pid) if len(child_pids(parent.pid) - first) == 1 else None,
            "a new process",
        )
        assert len(now) == 2 and victim not in now
        name = f"mx#{number}"
        eventually(
            lambda: heartbeats(app)[name].up_since > before[name].up_since,
            f"{name} reporting a new run",
        )
        for _ in range(20):
            assert ask(port, "203.0.113.7").startswith(b"action=550 5.7.606 ")
            assert ask(port, "198.51.100.1") == b"action=DUNNO\n\n"


def test_a_port_taken_by_another_program_is_one_line_and_no_process(env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_on_pipes(
            env, "policy-server", "--listen", f"127.0.0.1:{port}", "--processes", "2"
        )
    assert result.returncode == 1
    assert f"Error: cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_name_too_long_is_refused(env):
    result = run_on_pipes(env, "policy-server", "--name", "x" * 197)
    assert result.returncode == 2
    assert "--name must be 1 to 196 characters" in result.stderr


def test_each_process_serves_its_metrics_on_a_port_of_its_own(bare_app):
    from app.cli.policy_serving import nth_address

    assert [nth_address("127.0.0.1:9102", n) for n in (1, 2, 3)] == [
        "127.0.0.1:9102",
        "127.0.0.1:9103",
        "127.0.0.1:9104",
    ]
    assert nth_address("[::1]:9102", 2) == "[::1]:9103"
