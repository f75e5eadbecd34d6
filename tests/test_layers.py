"""The packages import only what their docstrings allow: the layers stay visible in the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
BASE = ("app.extensions", "app.models")
EDGE_MAY_USE = (
    *BASE,
    "app.core",
    "app.listing",
    "app.delisting",
    "app.mail",
    "app.abuse",
    "app.accounts",
    "app.policy",
    "app.web",
)
# package -> the packages (prefixes) its modules may import
ALLOWED = {
    "app.models": ("app.extensions", "app.models"),
    "app.core": (*BASE, "app.core"),
    "app.listing": (*BASE, "app.core", "app.listing"),
    "app.mail": (*BASE, "app.core", "app.mail"),
    "app.delisting": (*BASE, "app.core", "app.listing", "app.mail", "app.delisting"),
    "app.abuse": (*BASE, "app.core", "app.abuse", "app.delisting.bounces"),
    "app.accounts": (*BASE, "app.core", "app.accounts"),
    "app.policy": (*BASE, "app.core", "app.listing", "app.policy"),
    "app.web": (*BASE, "app.core", "app.web", "app.listing.addresses"),
    "app.portal": (*EDGE_MAY_USE, "app.portal"),
    "app.admin": (*EDGE_MAY_USE, "app.admin"),
    "app.api": (*EDGE_MAY_USE, "app.api"),
    "app.cli": (*EDGE_MAY_USE, "app.cli"),
    "app.health": (*BASE, "app.core", "app.web", "app.health"),
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("app"))
    return names


def _allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") or p.startswith(name + ".") for p in prefixes)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package):
    folder = APP.joinpath(*package.split(".")[1:])
    modules = [folder.with_suffix(".py")] if not folder.is_dir() else sorted(folder.rglob("*.py"))
    wrong = {
        f"{path.relative_to(APP.parent)} imports {name}"
        for path in modules
        for name in _imports(path)
        if name != "app" and not _allowed(name, ALLOWED[package])
    }
    assert not wrong, sorted(wrong)


def test_every_package_says_what_it_holds_and_may_import():
    for init in sorted(APP.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "import" in doc.lower(), (
            f"{init.parent.name}: the docstring says nothing of its imports"
        )


def test_tests_share_helpers_from_helpers_modules_not_from_conftest():
    tests = Path(__file__).resolve().parent
    importing = [
        path.name
        for path in sorted(tests.rglob("*.py"))
        if "tests.conftest" in _imports_of_tests(path)
    ]
    assert importing == [], "import shared helpers from tests/helpers*.py; conftest is fixtures"


def _imports_of_tests(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names
