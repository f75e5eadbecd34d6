"""`policy-server --check`: ask a running policy service RFC 5782's two test questions,
as a monitoring script would, and say in one line what is wrong."""

from __future__ import annotations

import re
import socket

from app.policy.rfc5782 import ALWAYS_LISTED, NEVER_LISTED_ADDRESS

TIMEOUT_SECONDS = 5.0
MAX_REPLY_BYTES = 4096
# Postfix access(5) actions that refuse the mail (now or later); any other lets it on.
REFUSAL = re.compile(r"(REJECT|DEFER|DEFER_IF_PERMIT|DEFER_IF_REJECT|[45][0-9][0-9])(\s|$)", re.I)


class NoAnswer(Exception):
    """Nothing, or nothing in the protocol, came back."""


def policy_request(address: str, **extra: str) -> bytes:
    """A request as Postfix's smtpd sends it at RCPT time (the attributes a server reads),
    with `extra` attributes added or replaced."""
    attributes = {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "protocol_name": "ESMTP",
        "client_address": address,
        "client_name": "unknown",
        "sender": "check@example.org",
        "recipient": "check@example.org",
        **extra,
    }
    return "".join(f"{name}={value}\n" for name, value in attributes.items()).encode() + b"\n"


def ask(sock: socket.socket, address: str) -> str:
    """Send one request on `sock` and return the `action` of the answer."""
    sock.sendall(policy_request(address))
    reply = b""
    while not reply.endswith(b"\n\n"):
        chunk = sock.recv(MAX_REPLY_BYTES)
        if not chunk:
            raise NoAnswer("the connection was closed before an answer")
        reply += chunk
        if len(reply) > MAX_REPLY_BYTES:
            raise NoAnswer("the answer is not a policy reply")
    for line in reply.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition("=")
        if name == "action":
            return value
    raise NoAnswer("the answer has no action")


def problem(host: str, port: int, timeout: float | None = None) -> str | None:
    """What is wrong with the policy service at host:port, or None when both answers are right."""
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            listed = ask(sock, str(ALWAYS_LISTED))
            unlisted = ask(sock, str(NEVER_LISTED_ADDRESS))
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except NoAnswer as exc:
        return str(exc)
    except OSError as exc:
        return f"no answer ({exc.strerror or exc})"
    if not REFUSAL.match(listed):
        return f"{ALWAYS_LISTED} (RFC 5782: always listed) was not refused: action={listed}"
    if REFUSAL.match(unlisted):
        return f"{NEVER_LISTED_ADDRESS} (RFC 5782: never listed) was refused: action={unlisted}"
    return None
