"""The count of unfinalised listings, kept by database triggers (migration 0007).

The count is the row of `listing_totals` plus the changes PostgreSQL's triggers have
appended to `listing_totals_change` since the worker last folded them in. One query
reads both in one snapshot, and folding moves changes into the row in one statement,
so a reader sees each change exactly once.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Listing, ListingTotals, ListingTotalsChange


def unfinalised() -> int:
    """How many listings have no `removed_at`, without counting them."""
    changes = sa.select(sa.func.coalesce(sa.func.sum(ListingTotalsChange.change), 0))
    total = db.session.scalar(sa.select(ListingTotals.unfinalised + changes.scalar_subquery()))
    if total is None:  # the row is missing (emptied by hand): count, as before the triggers
        total = db.session.execute(
            sa.select(sa.func.count()).select_from(Listing).where(Listing.removed_at.is_(None))
        ).scalar_one()
    return int(total)  # PostgreSQL's sum() of the changes makes the total a Decimal


def fold_changes() -> None:
    """Add the appended changes to the row and delete them, in one statement (PostgreSQL)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return  # SQLite's triggers update the row itself
    db.session.execute(
        sa.text(
            "WITH folded AS (DELETE FROM listing_totals_change RETURNING change)"
            " UPDATE listing_totals SET unfinalised = unfinalised"
            " + (SELECT coalesce(sum(change), 0) FROM folded) WHERE id = 1"
        )
    )
