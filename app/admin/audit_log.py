"""Admin page for the audit trail, filterable and exportable as CSV."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context

from app.admin import bp
from app.core import audit, csv_text
from app.core.paging import newest_first
from app.models import AuditEvent


@bp.get("/audit")
def audit_log() -> str:
    filters = audit.filters_from(request.args)
    statement = audit.search(filters)
    page = newest_first(statement, AuditEvent.id, request.args.get("after", type=int))
    return render_template("admin/audit.html", page=page, filters=filters)


@bp.get("/audit.csv")
def audit_csv() -> Response:
    rows = audit.csv_rows(audit.search(audit.filters_from(request.args)))
    chunks = csv_text.csv_chunks([column.key for column in audit.CSV_COLUMNS], rows)
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit.csv"},
    )
