"""Per-module figures of the last `mutmut run`; exits 1 if a module keeps too many mutants alive.

    .venv/bin/python scripts/mutation_report.py [--min-killed 0.9] [--write-docs]

The modules are those in `only_mutate` of [tool.mutmut] in pyproject.toml (file names or
globs), so adding a module there is enough; a module with nothing to mutate (an `__init__.py`
holding only a docstring) is left out. A timeout counts as killed: the mutant hung a test.
Mutants with no test, and any left unchecked, count against the module. `--write-docs`
replaces the table of figures in docs/mutation.md with this run's.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
DOCS = ROOT / "docs" / "mutation.md"
TABLE_START = "<!-- figures: written by scripts/mutation_report.py --write-docs -->"
TABLE_END = "<!-- end of figures -->"
KILLED = {"killed", "timeout", "caught by type check"}


@dataclass(frozen=True)
class ModuleFigures:
    path: str
    statuses: dict[str, str]  # mutant name -> mutmut's status

    @property
    def total(self) -> int:
        return len(self.statuses)

    @property
    def killed(self) -> int:
        return sum(status in KILLED for status in self.statuses.values())

    @property
    def score(self) -> float:
        return self.killed / self.total if self.total else 1.0

    def alive(self) -> dict[str, str]:
        """The mutants no test killed, with their status."""
        return {name: status for name, status in self.statuses.items() if status not in KILLED}


def mutated_modules() -> list[str]:
    """The patterns of `only_mutate` in pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["tool"]["mutmut"]["only_mutate"]


def load_figures(pattern: str) -> list[ModuleFigures]:
    """mutmut's results for each module that `pattern` names."""
    figures = []
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        path = meta.relative_to(MUTANTS).as_posix().removesuffix(".meta")
        if fnmatch.fnmatch(path, pattern):
            codes = json.loads(meta.read_text())["exit_code_by_key"]
            statuses = {name: status_by_exit_code[code] for name, code in codes.items()}
            if statuses:
                figures.append(ModuleFigures(path, statuses))
    return figures


def report(figures: ModuleFigures, min_killed: float) -> bool:
    """Print one module's figures and survivors; whether it reaches `min_killed`."""
    counts = Counter(figures.statuses.values())
    line = f"{figures.path}: {figures.killed}/{figures.total} killed ({figures.score:.1%})"
    line += f", {counts['survived']} survived"
    for status, n in sorted(counts.items()):
        if status not in {"killed", "survived"}:
            line += f", {n} {status}"
    print(line)
    for name, status in sorted(figures.alive().items()):
        print(f"    {status}: {name}")
    return figures.score >= min_killed


def table(all_figures: list[ModuleFigures]) -> str:
    """The figures as the Markdown table of docs/mutation.md."""
    lines = ["| module | killed / mutants | not killed |", "| --- | --- | --- |"]
    for figures in all_figures:
        counts = Counter(figures.alive().values())
        alive = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
        lines.append(
            f"| `{figures.path}` | {figures.killed} / {figures.total} ({figures.score:.1%}) "
            f"| {alive} |"
        )
    return "\n".join(lines)


def write_docs(all_figures: list[ModuleFigures]) -> None:
    """Replace the table between the markers in docs/mutation.md."""
    text = DOCS.read_text()
    before, start, rest = text.partition(TABLE_START)
    _, end, after = rest.partition(TABLE_END)
    if not start or not end:
        raise SystemExit(f"{DOCS}: the table markers are missing")
    DOCS.write_text(f"{before}{TABLE_START}\n{table(all_figures)}\n{TABLE_END}{after}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-killed", type=float, default=0.9, help="share of mutants to kill")
    parser.add_argument("--write-docs", action="store_true", help="update docs/mutation.md")
    args = parser.parse_args()
    passed = True
    all_figures = []
    for pattern in mutated_modules():
        modules = load_figures(pattern)
        if not modules:
            print(f"{pattern}: no results; run `mutmut run` first")
            passed = False
        for figures in modules:
            passed = report(figures, args.min_killed) and passed
        all_figures += modules
    if args.write_docs and all_figures:
        write_docs(all_figures)
    if not passed:
        print(f"Under {args.min_killed:.0%} killed: see a mutant with `mutmut show NAME`.")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
