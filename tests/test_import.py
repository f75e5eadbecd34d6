"""Bulk import: plain lists and CSV, good, bad and duplicate lines, all or nothing."""

import pytest
import sqlalchemy as sa

from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.listing import blocklist, importer
from app.listing.addresses import parse_network
from app.models import Listing
from tests.helpers import T0

DROP = "tests/data/spamhaus-drop-2015.netset"


def run(lines, reason="spam"):
    return importer.import_listings(
        importer.read_entries(lines), reason=reason, actor=Actor("t"), now=T0, clock=utcnow
    )


def count(source=None):
    statement = sa.select(sa.func.count()).select_from(Listing)
    if source:
        statement = statement.where(Listing.source == source)
    return db.session.scalar(statement)


def test_plain_list_with_comments_bad_and_duplicate_lines(ctx):
    blocklist.add_listing(parse_network("192.0.2.1"), "manual", actor=Actor("t"), now=T0)
    report = run(
        [
            "# a comment\n",
            "203.0.113.7\n",
            "198.51.100.0/24 ; a note\n",
            "192.0.2.1\n",
            "203.0.113.7\n",
            "not-an-address\n",
            "10.0.0.1/8\n",
            "\n",
            "2001:db8::/32 # v6\n",
        ]
    )
    db.session.commit()
    assert (report.added, report.already_listed, report.rejected_count) == (3, 2, 2)
    assert [(line, why.split(" ")[0]) for line, _, why in report.rejected] == [
        (6, "'not-an-address'"),
        (7, "10.0.0.1/8"),
    ]
    assert count("import") == 3


def test_csv_with_reasons_per_row(ctx):
    report = run(
        ["network,reason,notes\n", "203.0.113.7,Spam trap,seen twice\n", "198.51.100.7,,\n"],
        reason=None,
    )
    db.session.commit()
    assert report.added == 1
    assert report.rejected == [
        (3, "198.51.100.7", "a reason is required (give one for the whole file)")
    ]
    listing = db.session.scalar(sa.select(Listing))
    assert (listing.reason, listing.notes) == ("Spam trap", "seen twice")


def test_real_drop_list_imports_and_a_second_run_changes_nothing(ctx):
    with open(DROP, "rb") as handle:
        data = handle.read()
    report = run(importer.decode(data))
    db.session.commit()
    assert (report.added, report.rejected_count) == (683, 0)
    again = run(importer.decode(data))
    assert (again.added, again.already_listed) == (0, 683)
    assert blocklist.find_listing(parse_network("1.4.0.1").network_address, T0).network == (
        "1.4.0.0/17"
    )


def test_a_real_error_leaves_nothing_half_imported(ctx, monkeypatch):
    # The rows are written (COPY or batches); then the last step fails, as a full disk would.
    def failing_record(*args, **kwargs):
        assert count() == 50  # written, not yet committed
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))

    monkeypatch.setattr(importer.audit, "record", failing_record)
    with pytest.raises(sa.exc.OperationalError):
        run([f"198.51.100.{i}\n" for i in range(50)])
    db.session.rollback()
    monkeypatch.undo()
    assert count() == 0


def test_cli_import_reports_each_rejected_line(runner, tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("203.0.113.7\nbogus\n203.0.113.7\n")
    result = runner.invoke(args=["blocklist", "import", str(path), "--reason", "Spam"])
    assert result.exit_code == 0, result.output
    assert "line 2: bogus:" in result.output
    assert "1 added, 1 already listed, 1 rejected" in result.output


def test_a_large_import_refreshes_the_planner_statistics(ctx, monkeypatch):
    monkeypatch.setattr(importer, "STATISTICS_AFTER", 5)
    report = run([f"198.51.100.{i}\n" for i in range(20)])
    db.session.commit()
    importer.refresh_statistics_if_needed(report)
    if db.engine.dialect.name == "sqlite":
        rows = db.session.execute(sa.text("SELECT tbl FROM sqlite_stat1")).scalars().all()
        assert "listing" in rows
    else:
        analyzed = db.session.execute(
            sa.text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'listing'")
        ).scalar()
        assert analyzed is not None


def test_imported_rows_carry_the_exact_times(ctx, time_machine):
    from datetime import timedelta

    started = T0 + timedelta(seconds=5, microseconds=123456)
    time_machine.move_to(started, tick=False)  # when the write starts: the change stamp
    run(["192.0.2.1", "2001:db8::/48"])
    db.session.commit()
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Listing)).all()
    assert {(row.listed_at, row.changed_at) for row in rows} == {(T0, started)}


def test_lines_ending_in_a_lone_carriage_return_are_read_as_lines(ctx):
    data = b"network,reason\r192.0.2.1,Spam\r192.0.2.2,Spam\r"
    report = run(importer.decode(data))
    assert (report.added, report.rejected) == (2, [])
    plain = run(importer.decode(b"192.0.2.3\r192.0.2.4\r"))
    assert plain.added == 2


def test_a_field_too_large_for_any_reason_is_one_clear_error_naming_its_line(ctx):
    data = ("network,reason\n192.0.2.1,Spam\n192.0.2.2," + "x" * 200_000 + "\n").encode()
    with pytest.raises(importer.ImportFileError, match="line 3"):
        run(importer.decode(data))


def test_the_cli_and_the_admin_upload_say_so_without_a_traceback(app, runner, tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(("network,reason\n192.0.2.2," + "x" * 200_000 + "\n").encode())
    result = runner.invoke(args=["blocklist", "import", str(big)])
    assert result.exit_code == 2
    assert "line 2" in result.output and "Traceback" not in result.output
