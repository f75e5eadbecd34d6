"""The first `make run` installs the project without a setuptools warning box."""

import shutil
import subprocess
import sys

import pytest

import config

IGNORED = shutil.ignore_patterns("__pycache__", "*.mo")


def with_makefile(recipe: str, venv) -> subprocess.CompletedProcess[str]:
    """Run `recipe` with the Makefile's variables, for the virtual environment `venv`."""
    return subprocess.run(
        ["make", "-s", f"VENV={venv}", "--eval", f"try-it: ; @{recipe}", "try-it"],
        cwd=config.PROJECT_ROOT,
        capture_output=True,
        text=True,
    )


def test_the_editable_install_prints_no_warning_box(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    upgrade = with_makefile("$(PIP_INSTALL) --upgrade pip", venv)
    if upgrade.returncode != 0:
        pytest.skip(f"pip cannot reach a package index: {upgrade.stderr.strip()[-200:]}")
    # The project alone (its dependencies would take minutes): its build is what warns.
    project = tmp_path / "project"
    shutil.copytree(config.PROJECT_ROOT / "app", project / "app", ignore=IGNORED)
    for name in ("pyproject.toml", "README.md", "config.py", "wsgi.py"):
        shutil.copy(config.PROJECT_ROOT / name, project / name)
    install = with_makefile(f"$(PIP_INSTALL) --no-deps -e {project}", venv)
    assert install.returncode == 0, install.stderr
    assert "Editable installation" not in install.stderr + install.stdout
    assert "****" not in install.stderr + install.stdout
