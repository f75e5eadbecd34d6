"""Benchmark: how long a sender's browser works on the form's proof of work.

    .venv/bin/python bench/challenge.py [--rounds 15] [--max-number 100000]

Serves the portal with gunicorn (SQLite, the challenge on) and opens the form in
Debian's Chromium (CHROMIUM_PATH or /usr/bin/chromium) under Playwright, timing
from the start of navigation to the page's "check done" status. The baseline, in
the same run, is the same page with the challenge off, timed to its load event.
It runs twice: at full speed (a desktop on this machine) and with the CPU slowed
4x through the DevTools protocol, a common stand-in for a mid-range phone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright

from tests.helpers_browser import CHROMIUM_ARGS, running_portal

FLASK = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]
DONE = "document.querySelector('#challenge-status')?.textContent.includes('done')"


def timed_loads(browser, url: str, rounds: int, slowdown: int, challenge: bool) -> list[float]:
    times = []
    for _ in range(rounds + 1):  # the first load warms caches and is not counted
        page = browser.new_page()
        if slowdown > 1:
            session = page.context.new_cdp_session(page)
            session.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
        started = time.perf_counter()
        page.goto(url + "/", wait_until="load")
        if challenge:
            page.wait_for_function(DONE, timeout=120_000, polling=10)
        times.append((time.perf_counter() - started) * 1000)
        page.close()
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--max-number", type=int, default=100_000)
    args = parser.parse_args()
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{folder}/bench.sqlite3"
        env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench-" + "x" * 40}
        env["PUBLIC_BASE_URL"] = "http://127.0.0.1"
        subprocess.run([*FLASK, "db", "upgrade"], env=env, check=True, capture_output=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            results = {}
            for enabled in (False, True):
                with running_portal(
                    database_url,
                    2525,  # no mail is sent: the form is only loaded
                    CHALLENGE_ENABLED=str(enabled).lower(),
                    CHALLENGE_MAX_NUMBER=args.max_number,
                ) as url:
                    for slowdown in (1, 4):
                        times = timed_loads(browser, url, args.rounds, slowdown, enabled)
                        results[(enabled, slowdown)] = times
            browser.close()
    print(f"max number {args.max_number}, {args.rounds} loads each, medians (min-max) in ms")
    for slowdown in (1, 4):
        base = statistics.median(results[(False, slowdown)])
        solved = results[(True, slowdown)]
        print(
            f"CPU x{slowdown}: page loaded {base:.0f}; check done {statistics.median(solved):.0f}"
            f" ({min(solved):.0f}-{max(solved):.0f}); ratio {statistics.median(solved) / base:.1f}"
        )


if __name__ == "__main__":
    main()
