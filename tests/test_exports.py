"""Exports of the active list: rbldnsd, Postfix cidr table, CSV; written atomically."""

import csv
import io
from datetime import timedelta

import pytest

from app.core.actor import Actor
from app.extensions import db
from app.listing import blocklist, exports
from app.listing.addresses import parse_network
from tests.helpers import T0


@pytest.fixture
def listed(ctx):
    for text in ("203.0.113.7", "192.0.2.0/24", "2001:db8::7", "2001:db8:1::/48"):
        blocklist.add_listing(parse_network(text), f"reason {text}", actor=Actor("t"), now=T0)
    gone = blocklist.add_listing(parse_network("198.51.100.9"), "gone", actor=Actor("t"), now=T0)
    blocklist.remove_listing(parse_network("198.51.100.9"), actor=Actor("t"), now=T0)
    due = blocklist.add_listing(
        parse_network("198.51.100.10"), "due", actor=Actor("t"), now=T0
    ).listing
    due.removal_effective_at = T0  # removal in force, not finalised yet
    db.session.commit()
    return gone


def test_rbldnsd_export_writes_ip4set_and_ip6trie_files(app, listed, tmp_path):
    counts = exports.export("rbldnsd", tmp_path / "bl", T0, app.config)
    assert counts == {4: 2, 6: 2}
    ip4 = (tmp_path / "bl").read_text().splitlines()
    ip6 = (tmp_path / "bl.ip6").read_text().splitlines()
    text = "Listed; to request removal visit https://delist.example.test/lookup?ip=$"
    assert f":127.0.0.2:{text}" in ip4
    assert f":127.0.0.2:{text}" in ip6

    def entries(lines):
        return [line for line in lines if not line.startswith(("#", ":127.0.0.2:"))]

    assert entries(ip4) == [
        "127.0.0.2",
        "192.0.2.0/24",
        "203.0.113.7/32",
    ]
    assert entries(ip6) == [
        "::ffff:7f00:2",
        "2001:db8:1::/48",
        "2001:db8::7/128",
    ]
    assert "127.0.0.1" not in ip4
    assert (tmp_path / "bl").stat().st_mode & 0o777 == 0o644


def test_postfix_cidr_table_carries_the_reject_text(app, listed):
    out = io.StringIO()
    exports.write("postfix-cidr", out, T0, app.config)
    lines = dict(line.split("\t") for line in out.getvalue().splitlines()[1:])
    assert lines["203.0.113.7/32"] == (
        "550 5.7.606 Access denied, banned sending IP [203.0.113.7]. To request removal "
        "from this list please visit https://delist.example.test/ and follow the directions."
    )
    assert "[192.0.2.0/24]" in lines["192.0.2.0/24"]
    assert "[2001:db8::7]" in lines["2001:db8::7/128"]
    assert "198.51.100.9/32" not in lines and "198.51.100.10/32" not in lines


def test_csv_export_lists_active_listings_with_their_reasons(app, listed):
    out = io.StringIO()
    exports.write("csv", out, T0, app.config)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {row["network"]: row["reason"] for row in rows} == {
        "192.0.2.0/24": "reason 192.0.2.0/24",
        "203.0.113.7/32": "reason 203.0.113.7",
        "2001:db8:1::/48": "reason 2001:db8:1::/48",
        "2001:db8::7/128": "reason 2001:db8::7",
    }


def test_a_failed_export_leaves_the_previous_file_untouched(app, listed, tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    target = folder / "table.cidr"
    exports.export("postfix-cidr", target, T0, app.config)
    before = target.read_text()

    def broken(*args, **kwargs):
        yield from []
        raise RuntimeError("database went away")

    monkeypatch.setattr(blocklist, "active_listings", broken)
    with pytest.raises(RuntimeError):
        exports.export("postfix-cidr", target, T0 + timedelta(hours=1), app.config)
    assert target.read_text() == before
    assert [p.name for p in folder.iterdir()] == ["table.cidr"]


def test_cli_export(runner, tmp_path):
    runner.invoke(args=["blocklist", "add", "203.0.113.7", "--reason", "Spam"])
    result = runner.invoke(
        args=["blocklist", "export", "--format", "rbldnsd", "--output", str(tmp_path / "bl")]
    )
    assert result.exit_code == 0, result.output
    assert "exported 1 IPv4 and 0 IPv6 listings" in result.output
    assert "203.0.113.7/32" in (tmp_path / "bl").read_text()
    result = runner.invoke(args=["blocklist", "export", "--format", "rbldnsd"])
    assert result.exit_code == 2
    assert "give --output FILE" in result.output


def test_cli_export_to_standard_output(runner):
    runner.invoke(args=["blocklist", "add", "203.0.113.7", "--reason", "Spam"])
    result = runner.invoke(args=["blocklist", "export", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("network,reason,source,listed_at,removal_effective_at\n")
    assert "203.0.113.7/32,Spam,manual," in result.stdout


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_an_export_tells_its_progress_function_how_many_listings_it_wrote(
    app, listed, tmp_path, monkeypatch, fmt
):
    monkeypatch.setattr(exports, "PROGRESS_STEP", 3)
    steps: list[int] = []
    counts = exports.export(fmt, tmp_path / "out", T0, app.config, steps.append)
    assert steps == [3, 1]  # every 3 listings, then the rest
    assert sum(steps) == counts[4] + counts[6] == 4
