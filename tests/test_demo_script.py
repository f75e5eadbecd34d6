"""scripts/run-demo (make run) as a newcomer meets it: its ports checked before anything
starts, one demo per instance folder, a quiet stop on Ctrl-C or SIGTERM, and the key kept
to the user who runs it. The programs it starts are stand-ins (tests/helpers_demo.py)."""

import os
import re
import signal
import socket
import stat
import subprocess

import pytest

import config
from tests.helpers_demo import (
    alive,
    clean_up,
    demo_checkout,
    demo_env,
    run_demo_once,
    server_pids,
    start_demo,
)


@pytest.fixture
def checkout(tmp_path):
    return demo_checkout(tmp_path)


@pytest.fixture
def started(checkout):
    """start_demo, with whatever a failing test leaves running stopped afterwards."""
    processes = []

    def start(env, **options):
        processes.append(start_demo(checkout, env, **options))
        return processes[-1]

    yield start
    clean_up(checkout, processes)


def stop(process, sig=signal.SIGTERM):
    process.send_signal(sig)
    return process.communicate(timeout=30)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sigterm_stops_every_process_quietly(checkout, started):
    demo = started(demo_env(checkout))
    pids = server_pids(checkout, expected=4)
    assert len(pids) == 4  # the mail sink, the worker, the policy service, gunicorn
    assert all(alive(pid) for pid in pids)
    out, err = stop(demo)
    assert demo.returncode == 0
    assert err == ""
    assert out.strip() == "Demo stopped."
    assert not any(alive(pid) for pid in pids)
    assert not (checkout / "instance" / "demo.pid").exists()


def test_ctrl_c_on_make_run_stops_everything_with_no_error_from_make(checkout, started):
    demo = started(demo_env(checkout), command=("make", "--no-print-directory", "run"))
    pids = server_pids(checkout, expected=4)
    os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    out, err = demo.communicate(timeout=30)
    assert "make:" not in err  # no "make: *** [Makefile:29: run] Terminated" or Interrupt
    assert err == ""
    assert "Demo stopped." in out
    assert not any(alive(pid) for pid in pids)


@pytest.mark.parametrize("name", ["PORT", "POLICY_PORT", "MAIL_SINK_PORT"])
def test_a_taken_port_is_named_before_anything_starts(checkout, name):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_demo_once(checkout, demo_env(checkout, **{name: str(port)}))
    assert result.returncode == 1
    assert result.stderr == (
        f"run-demo: port {port} ({name}) is taken by another program; "
        f"pick another, e.g. {name}={port + 1} make run\n"
    )
    assert not (checkout / "stub.log").exists()  # nothing ran
    assert not (checkout / "instance" / "demo.env").exists()


def test_two_settings_on_one_port_are_refused(checkout):
    env = demo_env(checkout)
    result = run_demo_once(checkout, {**env, "POLICY_PORT": env["PORT"]})
    assert result.returncode == 1
    assert result.stderr == (
        f"run-demo: POLICY_PORT and PORT are both {env['PORT']}; give each its own port\n"
    )


def test_a_second_demo_on_the_same_instance_folder_is_refused(checkout, started):
    first = started(demo_env(checkout))
    settings = (checkout / "instance" / "demo.env").read_text()
    second = run_demo_once(checkout, demo_env(checkout))  # other ports, same folder
    assert second.returncode == 1
    assert second.stderr == (
        f"run-demo: a demo is already running from {checkout}/instance (process {first.pid}); "
        f"stop it first (Ctrl-C in its terminal, or kill {first.pid})\n"
    )
    assert (checkout / "instance" / "demo.env").read_text() == settings
    assert first.poll() is None
    stop(first)
    assert first.returncode == 0


def test_a_pid_file_left_by_a_crashed_demo_is_taken_over(checkout, started):
    gone = subprocess.Popen(["true"])
    gone.wait()
    (checkout / "instance").mkdir()
    for left in (gone.pid, os.getpid()):  # a process that ended; one that is not a demo
        (checkout / "instance" / "demo.pid").write_text(f"{left}\n")
        demo = started(demo_env(checkout))
        assert (checkout / "instance" / "demo.pid").read_text() == f"{demo.pid}\n"
        stop(demo)
        assert demo.returncode == 0


def test_a_server_that_ends_on_its_own_stops_the_others(checkout):
    env = demo_env(checkout, STUB_GUNICORN_FAILS="1")
    result = run_demo_once(checkout, env)
    assert result.returncode == 1
    assert result.stderr.endswith(
        "run-demo: a demo process ended on its own (see above); stopping the others\n"
    )
    assert not any(alive(pid) for pid in server_pids(checkout))


def test_the_demo_secret_key_and_settings_are_readable_by_their_owner_only(checkout, started):
    old_umask = os.umask(0o022)  # what most shells have: new files readable by everyone
    try:
        stop(started(demo_env(checkout)))
    finally:
        os.umask(old_umask)
    key = checkout / "instance" / "demo-secret-key"
    assert mode(key) == 0o600
    assert len(key.read_text().strip()) >= config.MIN_SECRET_KEY_LENGTH
    settings = checkout / "instance" / "demo.env"
    assert mode(settings) == 0o600  # it holds the key too
    assert f"SECRET_KEY={key.read_text().strip()}" in settings.read_text()


def test_a_key_left_readable_by_an_earlier_demo_is_closed_and_kept(checkout, started):
    instance = checkout / "instance"
    instance.mkdir()
    (instance / "demo-secret-key").write_text("k" * 64 + "\n")
    (instance / "demo-secret-key").chmod(0o644)
    (instance / "demo.env").write_text("SECRET_KEY=old\n")
    (instance / "demo.env").chmod(0o644)
    stop(started(demo_env(checkout)))
    assert mode(instance / "demo-secret-key") == 0o600
    assert (instance / "demo-secret-key").read_text() == "k" * 64 + "\n"
    assert mode(instance / "demo.env") == 0o600


def test_the_readme_names_every_port_of_the_demo_with_its_default():
    script = (config.PROJECT_ROOT / "scripts" / "run-demo").read_text()
    readme = (config.PROJECT_ROOT / "README.md").read_text()
    ports = re.findall(r'^(\w*PORT)="\$\{\1:-(\d+)\}"$', script, re.MULTILINE)
    assert {name for name, _ in ports} == {"PORT", "POLICY_PORT", "MAIL_SINK_PORT"}
    for name, default in ports:
        assert f"| `{name}` | `{default}` |" in readme


def test_the_readme_loads_the_demo_settings_before_the_commands_that_need_them():
    readme = (config.PROJECT_ROOT / "README.md").read_text()
    demo = readme[readme.index("## The two commands") : readme.index("## How it works")]
    loaded = demo.index("set -a; . instance/demo.env; set +a")
    assert loaded < demo.index("flask --app wsgi operator create")
    assert loaded < demo.index("flask --app wsgi blocklist check")
