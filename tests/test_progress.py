"""`blocklist import` and `blocklist export` show a progress bar on a terminal, and only
there: on pipes (cron, scripts) they write what they always wrote."""

import re

import pytest

from app.cli.blocklist import _line_count
from tests.helpers_terminal import cli_env, run_on_pipes, run_on_terminal

LINES = 2500  # more than a step of the bar (1000 lines)
SUMMARY = f"{LINES - 1} added, 0 already listed, 1 rejected"
FULL_BAR = "[" + "#" * 36 + "]  100%"


@pytest.fixture
def feed(tmp_path):
    path = tmp_path / "feed.txt"
    addresses = "".join(f"11.0.{i // 256}.{i % 256}\n" for i in range(LINES - 1))
    path.write_text("not-an-address\n" + addresses)
    return path


def test_off_a_terminal_import_and_export_write_only_their_results(database_url, feed, tmp_path):
    env = cli_env(database_url)
    imported = run_on_pipes(env, "blocklist", "import", str(feed), "--reason", "Spam")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == SUMMARY + "\n"
    assert "line 1: not-an-address: 'not-an-address' is not an IP address" in imported.stderr

    target = tmp_path / "list.csv"
    exported = run_on_pipes(env, "blocklist", "export", "--output", str(target))
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr == f"exported {LINES - 1} IPv4 and 0 IPv6 listings to {target}\n"
    for result in (imported, exported):
        assert "\r" not in result.stderr and "%" not in result.stderr
        assert "Importing" not in result.stderr and "Exporting" not in result.stderr


def test_on_a_terminal_import_and_export_show_a_bar_then_the_same_results(
    database_url, feed, tmp_path
):
    env = cli_env(database_url)
    status, output = run_on_terminal(env, "blocklist", "import", str(feed), "--reason", "Spam")
    assert status == 0, output
    bar, _, after = output.partition(SUMMARY)
    assert after, output
    assert "Importing" in bar and FULL_BAR in bar
    assert re.search(r"100%\s+[\d,]+ lines/s", bar), bar
    assert "line 1: not-an-address" in bar  # reported after the bar's own line

    on_terminal, on_pipe = tmp_path / "terminal.csv", tmp_path / "pipe.csv"
    status, output = run_on_terminal(env, "blocklist", "export", "--output", str(on_terminal))
    assert status == 0, output
    bar, _, after = output.partition(f"exported {LINES - 1} IPv4 and 0 IPv6 listings")
    assert after, output
    assert "Exporting" in bar and FULL_BAR in bar
    assert re.search(r"100%\s+[\d,]+ listings/s", bar), bar
    run_on_pipes(env, "blocklist", "export", "--output", str(on_pipe))
    assert on_terminal.read_text() == on_pipe.read_text()


def test_an_export_onto_the_terminal_itself_draws_no_bar_over_the_listings(database_url, feed):
    env = cli_env(database_url)
    run_on_pipes(env, "blocklist", "import", str(feed), "--reason", "Spam")
    status, output = run_on_terminal(env, "blocklist", "export", "--format", "postfix-cidr")
    assert status == 0, output
    assert re.search(r"11\.0\.9\.194/32\s+550 5\.7\.606", output), output[-500:]
    assert "Exporting" not in output and "%" not in output


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"a\nb\n", 2),
        (b"a\nb", 2),
        (b"a\r\nb\r\n", 2),
        (b"a\rb\rc", 3),  # old Mac line ends
        (b"", 1),
    ],
)
def test_the_bar_of_an_import_counts_the_lines_of_the_file(data, lines):
    assert _line_count(data) == lines
