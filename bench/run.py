"""Run every benchmark on SQLite and PostgreSQL and write docs/benchmarks.md.

    make bench                                   # the full run, 1,000,000 listings
    .venv/bin/python bench/run.py --quick        # smaller sizes, for a first look

PostgreSQL comes from --database-url (default: TEST_DATABASE_URL, else the local
server at postgresql://postgres@127.0.0.1:5432/test); each benchmark makes its own
scratch database there and drops it; bench/web.py's production mode counts its rate limits
in the local Redis (database 13). The page is written from the figures of this
run, followed by bench/NOTES.md: what the figures mean, the before/after records
and the targets missed, with why. Each command's printout is also kept in build/bench/:
after a failure, `--reuse` runs only what is missing.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
OUTPUT = ROOT / "docs" / "benchmarks.md"
NOTES = ROOT / "bench" / "NOTES.md"
SAVED = ROOT / "build" / "bench"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def sections(postgres: str, quick: bool) -> list[tuple[str, str, list[list[str]]]]:
    """(title, what it measures, commands) for every benchmark."""
    big = "1000,100000" if quick else "1000,1000000"
    size = "100000" if quick else "1000000"
    duration = "5" if quick else "15"
    mails = "500" if quick else "2000"
    pg = ["--database-url", postgres]
    return [
        (
            "Web throughput: the portal under gunicorn and wrk, against a bare Flask app",
            "Targets (since 2026-12-06): GET / at least 0.6 of the bare app's requests/s, "
            "POST / at least 0.2 on SQLite and 0.12 on PostgreSQL, the confirm page at least "
            "0.3, p99 under 50 ms, no errors; in production mode (rate limits counted in Redis, "
            "INFO logs, the proof of work on), POST / at least 0.12 on PostgreSQL.",
            [
                ["bench/web.py", "--duration", duration],
                ["bench/web.py", "--duration", duration, *pg],
            ],
        ),
        (
            "Write API: hits reported under gunicorn and wrk, against a bare Flask app",
            "Target: at least 1,000 hits recorded per second on PostgreSQL, p99 under 50 ms, "
            "no errors; one report per request, then batches of 50.",
            [
                ["bench/api.py", "--duration", duration],
                ["bench/api.py", "--duration", duration, *pg],
            ],
        ),
        (
            '"Listed now?" through the SQL path',
            "Targets: p50 under 1 ms at 1,000 and 1,000,000 listings, the 1M figure at most twice "
            "the 1k one.",
            [["bench/lookup.py", "--sizes", big], ["bench/lookup.py", "--sizes", big, *pg]],
        ),
        (
            "Bulk import, the admin listings page and the dashboard with its charts",
            "Targets: 1,000,000 lines imported in under 60 s on SQLite and 30 s on PostgreSQL; "
            "the listings page and the dashboard with its charts fast at 1M (p95 in-process "
            "under 50 ms, at most twice the 1k figure).",
            [["bench/admin.py", "--sizes", big], ["bench/admin.py", "--sizes", big, *pg]],
        ),
        (
            "Worker: mail delivered and removals finalised",
            "Mail to a local aiosmtpd sink, against smtplib alone over one connection. "
            "Target: at least 0.5 of smtplib alone.",
            [["bench/worker.py", "--mails", mails], ["bench/worker.py", "--mails", mails, *pg]],
        ),
        (
            "Expiry at scale: a tenth of the list expires at once",
            "Targets: with 1,000,000 listings of which 100,000 expire at the same moment, the "
            "policy server answers right throughout (p99 unchanged within noise) and one "
            "worker pass finalises them in under 60 s on PostgreSQL.",
            [
                ["bench/expiry.py", "--size", size, "--expiring", str(int(size) // 10)],
                ["bench/expiry.py", "--size", size, "--expiring", str(int(size) // 10), *pg],
            ],
        ),
        (
            "Policy server, exports and Postfix",
            "The policy server's index build, memory and answers per second with the list "
            "loaded (SQLite: the server reads the list once, then keeps it in memory); the "
            "exports; Postfix with our policy service against a static table.",
            [
                ["bench/policy.py", "--size", size, "--skip-postfix"],
                ["bench/policy.py", "--size", "1000", "--messages", "3000", "--rounds", "3"],
            ],
        ),
        (
            "The form's proof of work in a browser",
            "Chromium solving the challenge, at full speed and with the CPU slowed 4x.",
            [["bench/challenge.py"]],
        ),
    ]


def machine(postgres: str) -> list[str]:
    memory = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)
    try:
        engine = sa.create_engine(sa.make_url(postgres).set(drivername="postgresql+psycopg"))
        with engine.connect() as connection:
            pg_version = connection.execute(sa.text("SHOW server_version")).scalar()
        engine.dispose()
    except sa.exc.OperationalError as exc:
        raise SystemExit(f"PostgreSQL is not reachable at {postgres}: {exc}") from None
    os_name = (
        Path("/etc/debian_version").read_text().strip()
        if Path("/etc/debian_version").exists()
        else ""
    )
    return [
        f"- {os.cpu_count()} cores, {int(memory) / 1024 / 1024:.0f} GiB memory, "
        f"{platform.system()} {platform.release()}" + (f" (Debian {os_name})" if os_name else ""),
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {pg_version} on loopback (default settings)",
    ]


def run(command: list[str], reuse: bool) -> tuple[str, float]:
    """The benchmark's printout and how long it ran; kept in build/bench/ for --reuse."""
    kept = SAVED / (re.sub(r"[^A-Za-z0-9.,=-]+", "_", shlex.join(command)) + ".txt")
    if reuse and kept.exists():
        seconds, _, output = kept.read_text().partition("\n")
        return output, float(seconds)
    started = time.monotonic()
    result = subprocess.run(
        [PYTHON, *command], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"failed: {shlex.join(command)}")
    output, seconds = result.stdout.strip(), time.monotonic() - started
    SAVED.mkdir(parents=True, exist_ok=True)
    kept.write_text(f"{seconds}\n{output}")
    return output, seconds


def markdown(output: str) -> list[str]:
    """A benchmark's printout as Markdown: its tables kept, other lines as a list."""
    lines: list[str] = []
    for line in output.splitlines():
        if line.startswith("|"):
            if lines and not lines[-1].startswith("|") and lines[-1]:
                lines.append("")
            lines.append(line)
        elif not line.strip():
            lines.append("")
        else:
            if lines and lines[-1].startswith("|"):
                lines.append("")
            lines.append(f"- {line.lstrip('# ').strip()}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs")
    parser.add_argument(
        "--reuse", action="store_true", help="keep figures saved by an earlier run of a command"
    )
    args = parser.parse_args()
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{'bench/run.py --quick' if args.quick else 'make bench'}` on "
        f"{datetime.now(UTC):%Y-%m-%d}: every figure below comes from the command shown above "
        "it, run on this machine. Each benchmark measures its baseline in the same run, so "
        "compare ratios: this machine is shared and noisy. The notes after the figures are kept "
        "by hand in `bench/NOTES.md`.",
        "",
        "Machine:",
        "",
        *machine(args.database_url),
        "",
    ]
    for title, about, commands in sections(args.database_url, args.quick):
        lines += [f"## {title}", "", about, ""]
        for command in commands:
            shown = shlex.join(command).replace(args.database_url, "$POSTGRES")
            print(f"running {shown} ...", flush=True)
            output, seconds = run(command, args.reuse)
            lines += [f"`.venv/bin/python {shown}` ({seconds:.0f} s):", "", *markdown(output), ""]
    lines += ["---", "", NOTES.read_text().strip(), ""]
    OUTPUT.write_text("\n".join(lines))
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
