"""Admin page for the audit trail, filterable and exportable as CSV."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from flask import Response, render_template, request, stream_with_context

from app.admin import bp
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
def audit_log():
    statement, filters = _filtered()
    page = newest_first(statement, AuditEvent.id, request.args.get("after", type=int))
    return render_template("admin/audit.html", page=page, filters=filters)


@bp.get("/audit.csv")
def audit_csv():
    statement, _ = _filtered()
    columns = (
        AuditEvent.id,
        AuditEvent.at,
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.listing_id,
        AuditEvent.request_id,
        AuditEvent.client_address,
        AuditEvent.detail,
    )
    plain = statement.with_only_columns(*columns).order_by(AuditEvent.id)

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([column.key for column in columns])
        rows = db.session.connection().execute(plain.execution_options(yield_per=5000))
        for row in rows:
            writer.writerow([row.id, row.at.isoformat(), *row[2:]])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit.csv"},
    )
