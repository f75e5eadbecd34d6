"""One pass of background work: deliver mail, finalise removals and expiries, expire
requests, fold counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.abuse import challenge
from app.delisting import jobs
from app.extensions import db
from app.listing import blocklist
from app.listing import flow as listing_flow
from app.listing import totals as listing_totals
from app.mail import outbox


@dataclass
class PassReport:
    delivery: outbox.DeliveryReport
    removals_finalised: int
    listings_expired: int
    requests_expired: int

    def __str__(self) -> str:
        d = self.delivery
        return (
            f"mail sent={d.sent} retrying={d.retrying} failed={d.failed}; "
            f"removals finalised={self.removals_finalised}; "
            f"listings expired={self.listings_expired}; "
            f"requests expired={self.requests_expired}"
        )


FINALISE_BATCH = 1000  # listings finalised per transaction


def finalise_listings(now: datetime) -> blocklist.Finalised:
    """Record as history every listing whose end has come, a batch per transaction: when a
    hundred thousand expire at once, one pass finishes them and no transaction holds them all."""
    removals = expiries = 0
    while True:
        batch = blocklist.finalise_due_listings(now, limit=FINALISE_BATCH)
        db.session.commit()
        removals, expiries = removals + batch.removals, expiries + batch.expiries
        if batch.removals + batch.expiries < FINALISE_BATCH:
            return blocklist.Finalised(removals, expiries)


def run_once(now: datetime) -> PassReport:
    """Do every due job once, committing after each step."""
    finalised = finalise_listings(now)
    jobs.close_lapsed_requests(now)  # before the next: an expiry before the removal wins
    jobs.finish_due_requests(now)  # queues "removal took effect" mail, sent below
    db.session.commit()
    expired = jobs.expire_stale_requests(now)
    challenge.forget_expired(now)
    listing_totals.fold_changes()
    listing_flow.fold_changes()
    db.session.commit()
    delivery = outbox.deliver_due(now)
    return PassReport(delivery, finalised.removals, finalised.expiries, expired)
