"""Admin pages for bulk import (upload) and export of the active list."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context

from app.admin import bp
from app.admin.actions import operator_actor
from app.admin.forms import ImportForm
from app.core.clock import utcnow
from app.extensions import db
from app.listing import exports, importer
from app.web.forms import add_error
from app.web.security import large_body


def _import(form: ImportForm) -> importer.ImportReport:
    """Import the uploaded file and commit it; then refresh the planner's statistics."""
    report = importer.import_listings(
        importer.read_entries(importer.decode_file(form.file.data.stream)),
        reason=form.default_reason(),
        actor=operator_actor(),
        now=utcnow(),
        clock=utcnow,
    )
    db.session.commit()
    importer.refresh_statistics_if_needed(report)
    db.session.commit()
    return report


@bp.route("/import", methods=["GET", "POST"])
@large_body("ADMIN_IMPORT_MAX_BYTES")  # larger than any other form
def import_page() -> str | tuple[str, int]:
    form = ImportForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("admin/import.html", form=form, report=None), status
    try:
        report = _import(form)
    except importer.ImportFileError as exc:
        db.session.rollback()
        add_error(form.file, f"Nothing was imported: {exc}")
        return render_template("admin/import.html", form=form, report=None), 400
    return render_template("admin/import.html", form=ImportForm(formdata=None), report=report)


@bp.get("/export.csv")
def export_csv() -> Response:
    return Response(
        stream_with_context(exports.csv_chunks(utcnow())),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=blocked-senders.csv"},
    )
