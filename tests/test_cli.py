"""flask blocklist ... and flask worker: clear output, clear errors, right exit codes."""

import pytest

from tests.helpers import submit_form


def invoke(runner, *args):
    return runner.invoke(args=list(args))


def test_add_check_list_remove(runner):
    result = invoke(runner, "blocklist", "add", "203.0.113.7", "192.0.2.0/24", "--reason", "Spam")
    assert result.exit_code == 0, result.output
    assert "203.0.113.7/32: listed" in result.output
    assert "192.0.2.0/24: listed" in result.output

    result = invoke(runner, "blocklist", "check", "192.0.2.9")
    assert result.exit_code == 0
    assert "192.0.2.9 is listed by 192.0.2.0/24" in result.output
    assert "reason: Spam" in result.output

    result = invoke(runner, "blocklist", "list")
    assert result.exit_code == 0
    assert [line.split("\t")[0] for line in result.output.splitlines()] == [
        "192.0.2.0/24",
        "203.0.113.7/32",
    ]

    assert invoke(runner, "blocklist", "remove", "203.0.113.7").exit_code == 0
    result = invoke(runner, "blocklist", "check", "203.0.113.7")
    assert result.exit_code == 1
    assert "203.0.113.7 is not listed" in result.output


def test_adding_twice_reports_the_existing_listing(runner):
    invoke(runner, "blocklist", "add", "203.0.113.7", "--reason", "Spam")
    result = invoke(runner, "blocklist", "add", "203.0.113.7", "--reason", "Spam")
    assert result.exit_code == 0
    assert "already listed since" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["blocklist", "add", "203.0.113.300", "--reason", "x"], "not an IP address or CIDR range"),
        (["blocklist", "add", "192.0.2.5/24", "--reason", "x"], "did you mean 192.0.2.0/24?"),
        (["blocklist", "add", "203.0.113.7", "--reason", "  "], "--reason must be"),
        (["blocklist", "check", "example.com"], "not a host name"),
        (["blocklist", "remove", "garbage"], "not an IP address or CIDR range"),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_2(runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_bad_line_writes_nothing(runner):
    result = invoke(runner, "blocklist", "add", "203.0.113.7", "nonsense", "--reason", "Spam")
    assert result.exit_code == 2
    assert invoke(runner, "blocklist", "check", "203.0.113.7").exit_code == 1


def test_removing_what_is_not_listed_fails_clearly(runner):
    result = invoke(runner, "blocklist", "remove", "203.0.113.7")
    assert result.exit_code == 1
    assert "203.0.113.7 is not listed" in result.output


def test_worker_once_delivers_and_reports(runner, client, smtp_sink):
    invoke(runner, "blocklist", "add", "203.0.113.7", "--reason", "Spam")
    submit_form(client, "a@example.com", "203.0.113.7")
    result = invoke(runner, "worker", "--once")
    assert result.exit_code == 0, result.output
    assert "mail sent=1" in result.output
    assert len(smtp_sink.messages) == 1
