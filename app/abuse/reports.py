"""Abuse reports: anyone can tell the operators about spam from some network."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.core import audit
from app.core.actor import Actor
from app.core.errors import NotAllowed
from app.delisting import bounces
from app.extensions import db
from app.models import AbuseReport

MAX_ADDRESSES = 40


def submit(
    reporter_email: str,
    headers: str,
    note: str | None,
    *,
    actor: Actor,
    locale: str,
    now: datetime,
) -> AbuseReport:
    """Store a report for the operators' queue, with the addresses its headers name."""
    report = AbuseReport(
        reporter_email=reporter_email,
        headers=headers,
        note=note or None,
        addresses=",".join(bounces.addresses_in(headers, limit=MAX_ADDRESSES)),
        locale=locale,
        client_address=actor.client_address,
        status="open",
        created_at=now,
    )
    db.session.add(report)
    db.session.flush()
    audit.record("report.received", actor=actor, now=now, detail=f"report {report.id}")
    return report


def close(report: AbuseReport, *, actor: Actor, why: str, now: datetime) -> None:
    """An operator has dealt with the report; `why` says what was done."""
    if report.status != "open":
        raise NotAllowed("this report is already closed")
    report.status = "closed"
    report.closed_at = now
    report.closed_by = actor.name
    report.outcome = why
    audit.record("report.closed", actor=actor, now=now, detail=f"report {report.id}: {why}")


def open_count() -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(AbuseReport).where(AbuseReport.status == "open")
    ).scalar_one()
