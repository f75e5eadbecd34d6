"""Bulk import of addresses and ranges from a plain list or a CSV file.

A bad line never stops the import: it is reported with its line number and why.
The good lines go in as one transaction (the caller commits), so a real error
leaves nothing half-imported.

A little over 300 lines: reading a file and writing its rows fast are one job here (the
COPY and batch paths take the rows the reader builds, and both keep the per-line report).
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from app.core import audit
from app.core.actor import Actor
from app.core.errors import Invalid
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import AddressError, parse_network_key
from app.listing.blocklist import CHANGES_OVERLAP
from app.listing.guard import ListingGuard, ListingRefused
from app.listing.lifetimes import DEFAULT, PERMANENT, Asked, LifetimePolicy, expiry
from app.listing.prefixes import remember_prefixes
from app.listing.row_triggers import counted_once
from app.models import Listing

if TYPE_CHECKING:
    import psycopg

BATCH = 20_000
MAX_REPORTED_REJECTS = 1000
# After this many new rows the planner's statistics are refreshed: without them
# PostgreSQL misjudges the grown table and plans the admin pages with full sorts.
STATISTICS_AFTER = 10_000
# Half the overlap readers of `changed_at` allow: a longer write is stamped again at the end.
RESTAMP_AFTER = CHANGES_OVERLAP / 2


@dataclass
class ImportReport:
    added: int = 0
    already_listed: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, why)
    rejected_count: int = 0

    def reject(self, line_no: int, text: str, why: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED_REJECTS:
            self.rejected.append((line_no, text[:100], why))

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.already_listed} already listed, "
            f"{self.rejected_count} rejected"
        )


@dataclass(frozen=True)
class Entry:
    line_no: int
    text: str
    reason: str | None
    notes: str | None
    expires_in: str | None = None  # the CSV's optional column, as written


class ImportFileError(Invalid):
    """A file that cannot be read as a list at all (not one bad line); str() says where."""


def read_entries(lines: Iterable[str]) -> Iterator[Entry]:
    """Entries from a plain list (one per line, # comments) or a CSV with a network column.

    Raises ImportFileError when the CSV itself is broken (a field longer than any reason
    could be, a quote never closed), naming the line.
    """
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return
    try:
        header = [cell.strip().lower() for cell in next(csv.reader([first]))]
    except csv.Error as exc:
        raise ImportFileError(f"line 1: {exc}") from None
    if "network" in header:
        yield from _csv_entries(lines, header)
        return
    for line_no, line in enumerate([first, *lines], start=1):
        text = line.split("#", 1)[0].split(";", 1)[0].strip()
        if text:
            yield Entry(line_no, text, None, None)


def _csv_entries(lines: Iterator[str], header: list[str]) -> Iterator[Entry]:
    reader = csv.DictReader(lines, fieldnames=header, restkey="_extra", restval="")
    try:
        for row in reader:
            line_no = reader.line_num + 1  # the header line came before the reader
            text = (row.get("network") or "").strip()
            if text and not text.startswith("#"):
                yield Entry(
                    line_no,
                    text,
                    _clean(row.get("reason")),
                    _clean(row.get("notes")),
                    _clean(row.get("expires_in")),
                )
    except csv.Error as exc:
        # The reader counts the lines it finished: the header and the broken one are not.
        raise ImportFileError(f"line {reader.line_num + 2}: {exc}") from None


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def decode(data: bytes) -> Iterator[str]:
    """Lines of an uploaded file (UTF-8, with or without BOM; Latin-1 as a fallback)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    # Universal newlines: files from old Mac tools end their lines with a lone CR.
    return iter(io.StringIO(text, newline=None))


def decode_file(binary: IO[bytes]) -> Iterator[str]:
    """Lines of an uploaded file, read from its stream as `decode` reads bytes.

    A large upload is a temporary file: it is read twice, a block at a time (once to
    tell UTF-8 from Latin-1, once for the lines), and never held in memory whole.
    """
    encoding = "utf-8-sig" if _is_utf8(binary) else "latin-1"
    binary.seek(0)
    return iter(io.TextIOWrapper(binary, encoding=encoding, newline=None))


def _is_utf8(binary: IO[bytes], block: int = 1 << 20) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := binary.read(block):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def import_listings(
    entries: Iterable[Entry],
    *,
    reason: str | None,
    actor: Actor,
    now: datetime,
    clock: Callable[[], datetime],
    source: str = "import",
    lifetime: Asked = DEFAULT,
) -> ImportReport:
    """Add every new network; count those already listed; reject bad lines.

    `now` is the time of the import; `clock` tells how long writing took, since a write
    that outlasts the change-feed overlap must stamp its rows again.
    """
    report = ImportReport()
    blocklist.finalise_due_listings(now, limit=None)
    active = {
        (v, p, s)
        for v, p, s in db.session.execute(
            sa.select(Listing.version, Listing.prefix_len, Listing.net_start).where(
                Listing.removed_at.is_(None)
            )
        )
    }
    guard = ListingGuard.current()
    policy = LifetimePolicy.current()
    previous = blocklist.previous_lifetimes(None, now, policy.memory)
    rows, prefixes = [], set()
    for entry in entries:
        try:
            text, key = parse_network_key(entry.text)
            guard.check(key, text)
            asked = _asked(entry.expires_in, lifetime)
        except (AddressError, ListingRefused, Invalid) as exc:
            report.reject(entry.line_no, entry.text, str(exc))
            continue
        try:
            why = blocklist.checked_reason(entry.reason or reason or "")
        except Invalid as exc:
            report.reject(entry.line_no, entry.text, f"{exc} (give one for the whole file)")
            continue
        if key in active:
            report.already_listed += 1
            continue
        active.add(key)
        prefixes.add((key.version, key.prefix_len))
        seconds = policy.seconds(asked, previous.get(key))
        rows.append(
            {
                "network": text,
                **key._asdict(),
                "reason": why,
                "notes": entry.notes,
                "source": source,
                "listed_at": now,
                "listed_by": actor.name,
                "expires_at": expiry(seconds, now),
                "lifetime_seconds": seconds,
                "first_seen_at": now,
                "last_seen_at": now,
            }
        )
    started = clock()  # after reading the lines, which can take a while
    for row in rows:
        row["changed_at"] = started
    _insert(rows)
    if prefixes:
        remember_prefixes(prefixes)
    report.added = len(rows)
    if rows and clock() - started > RESTAMP_AFTER:
        # The policy server reads changes since its last refresh, less an overlap:
        # rows written longer ago than that by commit time must carry a newer stamp.
        db.session.execute(
            sa.update(Listing)
            .where(Listing.changed_at == started, Listing.listed_by == actor.name)
            .values(changed_at=clock())
            .execution_options(synchronize_session=False)
        )
    audit.record("listing.imported", actor=actor, now=now, detail=report.summary())
    return report


def _asked(expires_in: str | None, default: Asked) -> Asked:
    """A line's own lifetime (the CSV's `expires_in`: seconds, or `permanent`), or the file's."""
    if expires_in is None:
        return default
    if expires_in.lower() == "permanent":
        return PERMANENT
    if not expires_in.isdigit():
        raise Invalid(f"expires_in {expires_in!r} is not a number of seconds or 'permanent'")
    return Asked(int(expires_in))


TIME_COLUMNS = frozenset({"listed_at", "changed_at", "expires_at", "first_seen_at", "last_seen_at"})


def _insert(rows: list[dict]) -> None:
    """Write new listings: COPY on PostgreSQL (several times faster), batches elsewhere."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        with counted_once(connection, rows):
            for start in range(0, len(rows), BATCH):
                db.session.execute(sa.insert(Listing), rows[start : start + BATCH])
        return
    columns = list(rows[0])
    # psycopg formats a datetime anew for every row; an import has few distinct times,
    # so they go as ISO text, formatted once each (COPY of 200,000 rows: 0.36 s, not 0.82).
    times = [i for i, column in enumerate(columns) if column in TIME_COLUMNS]
    as_text = functools.cache(datetime.isoformat)
    values_of = operator.itemgetter(*columns)
    copy_sql = f"COPY listing ({', '.join(columns)}) FROM STDIN"
    # A connection in use always has its driver's connection (psycopg's, on PostgreSQL).
    driver = cast("psycopg.Connection[Any]", connection.connection.driver_connection)
    with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            values = list(values_of(row))
            for i in times:
                if values[i] is not None:
                    values[i] = as_text(values[i])
            copy.write_row(values)


def refresh_statistics_if_needed(report: ImportReport) -> None:
    """After committing a large import: fresh planner statistics (the caller commits again)."""
    if report.added < STATISTICS_AFTER:
        return
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA analysis_limit=1000")  # sample; fast at any size
    connection.exec_driver_sql("ANALYZE listing")
