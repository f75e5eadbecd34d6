"""Admin page for the audit trail, filterable and exportable as CSV."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from flask import Response, render_template, request, stream_with_context

from app.admin import bp
from app.core import csv_text
from app.core.paging import newest_first
from app.extensions import db
from app.models import AuditEvent


def _filtered() -> tuple[sa.Select, dict[str, str]]:
    filters = {k: request.args.get(k, "").strip()[:254] for k in ("actor", "action", "q")}
    statement = sa.select(AuditEvent)
    if filters["actor"]:
        statement = statement.where(AuditEvent.actor.startswith(filters["actor"], autoescape=True))
    if filters["action"]:
        statement = statement.where(
            AuditEvent.action.startswith(filters["action"], autoescape=True)
        )
    if filters["q"]:
        statement = statement.where(AuditEvent.detail.contains(filters["q"], autoescape=True))
    return statement, filters


@bp.get("/audit")
def audit_log() -> str:
    statement, filters = _filtered()
    page = newest_first(statement, AuditEvent.id, request.args.get("after", type=int))
    return render_template("admin/audit.html", page=page, filters=filters)


CSV_COLUMNS = (
    AuditEvent.id,
    AuditEvent.at,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.listing_id,
    AuditEvent.request_id,
    AuditEvent.client_address,
    AuditEvent.detail,
)


def _csv_rows(statement: sa.Select) -> Iterator[list[object]]:
    plain = statement.with_only_columns(*CSV_COLUMNS).order_by(AuditEvent.id)
    # Plain rows on the connection, a batch at a time: the trail can be millions long.
    for row in db.session.connection().execute(plain.execution_options(yield_per=5000)):
        yield [row.id, row.at.isoformat(), *row[2:]]


@bp.get("/audit.csv")
def audit_csv() -> Response:
    statement, _ = _filtered()
    chunks = csv_text.csv_chunks([column.key for column in CSV_COLUMNS], _csv_rows(statement))
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit.csv"},
    )
