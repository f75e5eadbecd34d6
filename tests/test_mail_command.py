"""`flask mail test ADDRESS`: the relay's answer for the operator setting it up."""

from __future__ import annotations

import pytest

from tests.helpers import SmtpSink, free_port
from tests.helpers_mail import RefusingServer, smtp_server


@pytest.fixture
def runner(bare_app):
    bare_app.config["MAIL_PORT"] = free_port()
    return bare_app.test_cli_runner()


def mail_test(runner, address: str = "postmaster@example.org"):
    return runner.invoke(args=["mail", "test", address])


def test_an_accepted_message_prints_the_relay_reply_and_exits_0(runner):
    port = runner.app.config["MAIL_PORT"]
    sink = SmtpSink(port)
    with smtp_server(sink, port):
        result = mail_test(runner)
    assert result.exit_code == 0, result.output
    assert result.output == f"accepted by 127.0.0.1:{port}: 250 OK\n"
    [message] = sink.messages
    assert message["To"] == "postmaster@example.org"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "https://delist.example.test" in message.get_content()


def test_a_refusal_prints_the_reply_and_exits_1(runner):
    refusing = RefusingServer("550 5.1.1 <postmaster@example.org>: no such user")
    with smtp_server(refusing, runner.app.config["MAIL_PORT"]):
        result = mail_test(runner)
    assert result.exit_code == 1
    assert result.output == (
        "Error: not sent to postmaster@example.org: recipient refused: "
        "550 5.1.1 <postmaster@example.org>: no such user\n"
    )


def test_a_closed_port_is_one_line_and_exit_1(runner):
    result = mail_test(runner)
    assert result.exit_code == 1
    port = runner.app.config["MAIL_PORT"]
    assert result.output.startswith(
        f"Error: not sent to postmaster@example.org: cannot connect to 127.0.0.1:{port}: "
    )
    assert "Connection refused" in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_a_bad_address_is_refused_before_sending(runner):
    result = mail_test(runner, "not-an-address")
    assert result.exit_code == 2
    assert "'not-an-address' is not a valid email address" in result.output
