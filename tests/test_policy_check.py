"""`policy-server --check HOST:PORT` tells a monitoring script, in one line and its exit
status, whether a policy service answers RFC 5782's test questions right."""

import socket
import threading
from contextlib import contextmanager

import pytest

from tests.helpers import free_port


@contextmanager
def answering(reply: bytes | None):
    """A loopback server sending `reply` to every request (None: it reads one and closes)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            with sock:
                while sock.recv(4096) and reply is not None:
                    sock.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting in the thread
        listener.close()
        thread.join(timeout=5)


def check(bare_app, address):
    return bare_app.test_cli_runner().invoke(args=["policy-server", "--check", address])


@pytest.mark.parametrize(
    ("reply", "complaint"),
    [
        (b"action=DUNNO\n\n", "127.0.0.2 (RFC 5782: always listed) was not refused: action=DUNNO"),
        (b"action=OK\n\n", "127.0.0.2 (RFC 5782: always listed) was not refused: action=OK"),
        (
            b"action=554 5.7.1 go away\n\n",
            "127.0.0.1 (RFC 5782: never listed) was refused: action=554 5.7.1 go away",
        ),
        (b"action=REJECT\n\n", "127.0.0.1 (RFC 5782: never listed) was refused: action=REJECT"),
        (b"hello\n\n", "the answer has no action"),
        (None, "the connection was closed before an answer"),
    ],
)
def test_a_wrong_answer_is_one_line_and_exit_1(bare_app, reply, complaint):
    with answering(reply) as port:
        result = check(bare_app, f"127.0.0.1:{port}")
    assert result.exit_code == 1
    assert result.output == f"Error: policy service at 127.0.0.1:{port}: {complaint}\n"


def test_nothing_listening_is_exit_1(bare_app):
    port = free_port()
    result = check(bare_app, f"127.0.0.1:{port}")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: policy service at 127.0.0.1:{port}: no answer (Connection refused)\n"
    )


def test_a_service_that_never_answers_is_exit_1(bare_app, monkeypatch):
    from app.policy import check as policy_check

    monkeypatch.setattr(policy_check, "TIMEOUT_SECONDS", 0.5)
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (the backlog), never answers
    with listener:
        result = check(bare_app, f"127.0.0.1:{listener.getsockname()[1]}")
    assert result.exit_code == 1
    assert result.output.endswith(": no answer within 0.5 s\n")


def test_a_bad_address_is_exit_2(bare_app):
    result = check(bare_app, "localhost")
    assert result.exit_code == 2
    assert "--check 'localhost': expected HOST:PORT" in result.output
