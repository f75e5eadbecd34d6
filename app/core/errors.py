"""Refusals the domain raises, mapped once to pages, JSON and CLI lines by the edges.

Services raise these for what a person can cause; anything else is a bug and must
not be caught as if it were a refusal.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal a user can cause; str() is a message for people."""


class Invalid(DomainError):
    """Input that breaks a rule (a reason too long, an address that cannot be listed)."""


class NotAllowed(DomainError):
    """The thing exists, but its state does not allow this (a request not in review)."""


class Conflict(DomainError):
    """Someone else changed it first, or it is already so."""


class NotFound(DomainError):
    """Nothing by that name or number."""
