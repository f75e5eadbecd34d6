"""Who did something, and from where: the value every service that records a change takes."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import EXPIRED_BY

# How the audit trail and `removed_by` name a sender and an operator.
SENDER_NAME = "sender"
OPERATOR_PREFIX = "operator:"


@dataclass(frozen=True)
class Actor:
    """A person or process acting on the list, as the audit trail names it.

    `name` is what the audit trail shows ("sender", "worker", "operator:ana@example.net",
    "cli:root"); `client_address` is the network address a web request came from, if any.
    Views build one from the request; services never look at the request themselves.
    """

    name: str
    client_address: str | None = None

    @classmethod
    def sender(cls, client_address: str | None) -> Actor:
        return cls(SENDER_NAME, client_address)

    @classmethod
    def public(cls, client_address: str | None) -> Actor:
        """Anyone on the public site who is not acting on a request of theirs (a report)."""
        return cls("public", client_address)

    @classmethod
    def operator(cls, email: str, client_address: str | None = None) -> Actor:
        return cls(f"{OPERATOR_PREFIX}{email}"[:254], client_address)


WORKER = Actor("worker")
# A listing that ended on its own: recorded as who removed it and who acted in the audit log.
EXPIRY = Actor(EXPIRED_BY)
