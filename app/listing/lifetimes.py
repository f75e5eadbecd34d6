"""How long a new listing lasts: the one rule for expiry and repeat offenders.

A listing lasts `LISTING_TTL_SECONDS` (0: it never expires) unless the operator gives it a
lifetime or makes it permanent. A network listed again within `LISTING_MEMORY_DAYS` of the
end of its previous listing gets that listing's lifetime times `LISTING_REPEAT_FACTOR`, at
most `LISTING_MAX_TTL_SECONDS`: each offence lengthens the next listing (RFC 6471 asks for
temporary listings; repeat offenders earn longer ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from app.core.errors import Invalid
from config import MAX_LIFETIME_SECONDS


@dataclass(frozen=True)
class Asked:
    """What the operator asked for: nothing (the default), seconds, or permanent."""

    seconds: int | None = None
    permanent: bool = False

    def __post_init__(self) -> None:
        if self.permanent and self.seconds is not None:
            raise Invalid("give a lifetime or make the listing permanent, not both")
        if self.seconds is not None and not 1 <= self.seconds <= MAX_LIFETIME_SECONDS:
            raise Invalid(f"the lifetime must be 1 to {MAX_LIFETIME_SECONDS} seconds")


DEFAULT = Asked()
PERMANENT = Asked(permanent=True)


@dataclass(frozen=True)
class LifetimePolicy:
    ttl: int
    memory: timedelta
    factor: int
    longest: int

    @classmethod
    def current(cls) -> LifetimePolicy:
        config = current_app.config
        return cls(
            ttl=config["LISTING_TTL_SECONDS"],
            memory=timedelta(days=config["LISTING_MEMORY_DAYS"]),
            factor=config["LISTING_REPEAT_FACTOR"],
            longest=config["LISTING_MAX_TTL_SECONDS"],
        )

    def seconds(self, asked: Asked, previous: int | None) -> int | None:
        """The lifetime of a new listing (None: permanent), given the lifetime of the same
        network's listing that ended within the memory (None: there was none, or it was
        permanent)."""
        if asked.permanent:
            return None
        if asked.seconds is not None:
            return asked.seconds
        if previous is not None:
            return min(previous * self.factor, self.longest)
        return self.ttl or None


def expiry(lifetime: int | None, now: datetime) -> datetime | None:
    """When a listing with `lifetime` seconds (None: permanent) seen at `now` ends."""
    return None if lifetime is None else now + timedelta(seconds=lifetime)
