"""scripts/run-demo keeps the demo's secret key to the user who runs it."""

import os
import shutil
import signal
import stat
import subprocess
import sys

import pytest

import config

STUB = "#!/bin/sh\nexit 0\n"  # flask and gunicorn: the demo's processes are not started here


@pytest.fixture
def demo_checkout(tmp_path):
    """A copy of the script in a checkout whose flask and gunicorn do nothing."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(config.PROJECT_ROOT / "scripts" / "run-demo", tmp_path / "scripts" / "run-demo")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    for name in ("flask", "gunicorn"):
        (bin_dir / name).write_text(STUB)
        (bin_dir / name).chmod(0o755)
    return tmp_path


def run_demo(checkout):
    result = subprocess.run(
        ["bash", str(checkout / "scripts" / "run-demo")],
        cwd=checkout,
        env={"PATH": os.environ["PATH"], "HOME": str(checkout)},
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # the script ends by signalling its whole process group
    )
    # On its way out the script stops everything it started, itself included (SIGTERM).
    assert result.returncode in (0, -signal.SIGTERM), result.stderr


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_demo_secret_key_and_settings_are_readable_by_their_owner_only(demo_checkout):
    old_umask = os.umask(0o022)  # what most shells have: new files readable by everyone
    try:
        run_demo(demo_checkout)
    finally:
        os.umask(old_umask)
    key = demo_checkout / "instance" / "demo-secret-key"
    assert mode(key) == 0o600
    assert len(key.read_text().strip()) >= config.MIN_SECRET_KEY_LENGTH
    settings = demo_checkout / "instance" / "demo.env"
    assert mode(settings) == 0o600  # it holds the key too
    assert f"SECRET_KEY={key.read_text().strip()}" in settings.read_text()


def test_a_key_left_readable_by_an_earlier_demo_is_closed_and_kept(demo_checkout):
    instance = demo_checkout / "instance"
    instance.mkdir()
    (instance / "demo-secret-key").write_text("k" * 64 + "\n")
    (instance / "demo-secret-key").chmod(0o644)
    (instance / "demo.env").write_text("SECRET_KEY=old\n")
    (instance / "demo.env").chmod(0o644)
    run_demo(demo_checkout)
    assert mode(instance / "demo-secret-key") == 0o600
    assert (instance / "demo-secret-key").read_text() == "k" * 64 + "\n"
    assert mode(instance / "demo.env") == 0o600
