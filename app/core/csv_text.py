"""CSV the project writes: streamed in chunks, with no cell a spreadsheet would run as a formula.

Reasons and notes arrive from senders' reports and third-party feeds, so a cell such as
`=HYPERLINK(...)` must reach the file as text. OWASP's advice: a cell that starts with
`=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`. Networks, dates and
numbers never start with those, so real values read as before.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_CHARS = 64 * 1024


def safe_cell(value: object) -> object:
    """`value`, or its text behind a `'` when a spreadsheet would read it as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The header and rows as CSV text, in chunks of about 64 KiB (for streaming)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        if buffer.tell() > CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
