"""Exports of the active list for mail servers: rbldnsd datasets, a Postfix cidr table, CSV.

Files are written to a temporary file beside the target and renamed over it, so a
reader (rbldnsd re-reading on mtime, Postfix, a cron job) never sees half a file. A
`progress` function, when given, is told how many listings have been written as they go
(the command line draws its bar with it).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from app.core import csv_text
from app.listing import blocklist
from app.listing.rejection import lookup_url, reject_reply
from app.models import Listing

FORMATS = ("csv", "rbldnsd", "postfix-cidr")
# RFC 5782 section 5: a DNSBL lists these test addresses (and never 127.0.0.1).
RFC5782_TEST_ENTRIES = {4: "127.0.0.2", 6: "::ffff:7f00:2"}
PROGRESS_STEP = 1000  # listings per call of `progress`: a call per row would slow a big export

Progress = Callable[[int], None]


def _listings(
    now: datetime, *extra: sa.SQLColumnExpression[Any], progress: Progress | None = None
) -> Iterator[sa.Row]:
    """blocklist.active_listings, telling `progress` every PROGRESS_STEP rows and at the end."""
    rows = blocklist.active_listings(now, *extra)
    if progress is None:
        yield from rows
        return
    done = 0
    for done, row in enumerate(rows, start=1):
        yield row
        if done % PROGRESS_STEP == 0:
            progress(PROGRESS_STEP)
    progress(done % PROGRESS_STEP)


@contextmanager
def atomic_writer(path: Path) -> Iterator[IO[str]]:
    """Write to a temporary file in the same folder, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (renamed, not deleted, on success)
        "w",
        dir=path.parent,
        prefix=f".{path.name}.",
        suffix=".tmp",
        delete=False,
        encoding="utf-8",
        newline="",
    )
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # readable by the DNS server's own user
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


CSV_HEADER = ("network", "reason", "source", "listed_at", "removal_effective_at")


def _csv_rows(
    now: datetime, counts: dict[int, int], progress: Progress | None
) -> Iterator[tuple[str, ...]]:
    columns = (Listing.reason, Listing.source, Listing.listed_at)
    for row in _listings(now, *columns, progress=progress):
        removal = row.removal_effective_at.isoformat() if row.removal_effective_at else ""
        counts[row.version] += 1
        yield (row.network, row.reason, row.source, row.listed_at.isoformat(), removal)


def csv_chunks(
    now: datetime, counts: dict[int, int] | None = None, progress: Progress | None = None
) -> Iterator[str]:
    """The active list as CSV text, in chunks (for streaming); `counts` counts per IP version."""
    counts = counts if counts is not None else {4: 0, 6: 0}
    return csv_text.csv_chunks(CSV_HEADER, _csv_rows(now, counts, progress))


def write_csv(out: IO[str], now: datetime, progress: Progress | None = None) -> dict[int, int]:
    counts = {4: 0, 6: 0}
    for chunk in csv_chunks(now, counts, progress):
        out.write(chunk)
    return counts


def write_postfix_cidr(
    out: IO[str], now: datetime, config: Mapping[str, Any], progress: Progress | None = None
) -> dict[int, int]:
    """A check_client_access cidr: table; a range's reply names the range."""
    counts = {4: 0, 6: 0}
    out.write(f"# Blocked senders, exported {now.isoformat()}\n")
    for network, version, *_ in _listings(now, progress=progress):
        address, _, prefix_len = network.partition("/")
        single = int(prefix_len) == (32 if version == 4 else 128)
        out.write(f"{network}\t{reject_reply(config, address if single else network)}\n")
        counts[version] += 1
    return counts


def _rbldnsd_header(out: IO[str], now: datetime, config: Mapping[str, Any], version: int) -> None:
    text = f"Listed; to request removal visit {lookup_url(config, '$')}"
    out.write(f"# Blocked senders (IPv{version}), exported {now.isoformat()}\n")
    out.write(f":127.0.0.2:{text}\n")
    out.write(f"# RFC 5782 test entry\n{RFC5782_TEST_ENTRIES[version]}\n")


def write_rbldnsd(
    ip4: IO[str],
    ip6: IO[str],
    now: datetime,
    config: Mapping[str, Any],
    progress: Progress | None = None,
) -> dict[int, int]:
    """ip4set lines to `ip4` and ip6trie lines to `ip6`, both answering 127.0.0.2."""
    counts = {4: 0, 6: 0}
    _rbldnsd_header(ip4, now, config, 4)
    _rbldnsd_header(ip6, now, config, 6)
    for network, version, *_ in _listings(now, progress=progress):
        (ip4 if version == 4 else ip6).write(network + "\n")
        counts[version] += 1
    return counts


def ip6_path(path: Path) -> Path:
    """Where the IPv6 dataset of an rbldnsd export goes, beside the IPv4 one."""
    return path.with_name(path.name + ".ip6")


def write(
    fmt: str,
    out: IO[str],
    now: datetime,
    config: Mapping[str, Any],
    progress: Progress | None = None,
) -> dict[int, int]:
    """Write a single-file format (csv or postfix-cidr) to an open stream."""
    if fmt == "csv":
        return write_csv(out, now, progress)
    return write_postfix_cidr(out, now, config, progress)


def export(
    fmt: str,
    output: Path,
    now: datetime,
    config: Mapping[str, Any],
    progress: Progress | None = None,
) -> dict[int, int]:
    """Write the active list in `fmt` to `output` (rbldnsd: also output + ".ip6")."""
    if fmt == "rbldnsd":
        with atomic_writer(output) as ip4, atomic_writer(ip6_path(output)) as ip6:
            return write_rbldnsd(ip4, ip6, now, config, progress)
    with atomic_writer(output) as out:
        return write(fmt, out, now, config, progress)
