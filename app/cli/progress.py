"""Progress bars for long commands: drawn on a terminal only, so cron mails and pipes stay
as they were."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TextIO

import click


class Bar:
    """Click's bar with the rate beside its percentage and time left. Call it with the
    number of units done since the last call; `finish` draws the end and leaves the line."""

    def __init__(self, label: str, length: int, unit: str, stream: TextIO):
        self._total = max(length, 1)
        self._unit = unit
        self._done = 0
        self._started = time.monotonic()
        self._stack = ExitStack()
        self._bar = self._stack.enter_context(
            click.progressbar(
                length=self._total, label=label, file=stream, item_show_func=self._rate
            )
        )

    def _rate(self, _: object) -> str | None:
        elapsed = time.monotonic() - self._started
        return f"{self._done / elapsed:,.0f} {self._unit}/s" if self._done and elapsed else None

    def __call__(self, steps: int) -> None:
        self._done += steps
        self._bar.update(steps)

    def finish(self) -> None:
        """Show the end (the length may have been an estimate) and leave the line, so that
        log lines and the summary start on their own."""
        if self._done < self._total:
            self(self._total - self._done)
        self.close()

    def close(self) -> None:
        self._stack.close()  # once: a second call finds nothing left to close


@contextmanager
def progress_bar(label: str, length: int, unit: str, *, shown: bool = True) -> Iterator[Bar | None]:
    """A bar on standard error for `length` `unit`s; None, and nothing drawn, when standard
    error is not a terminal or `shown` is false. Finished when the block ends normally."""
    if not (shown and sys.stderr.isatty()):
        yield None
        return
    bar = Bar(label, length, unit, sys.stderr)
    try:
        yield bar
        bar.finish()
    finally:
        bar.close()
