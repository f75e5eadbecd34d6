"""Admin pages for abuse reports: the queue, one report with its addresses, closing it."""

from __future__ import annotations

from datetime import datetime

from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.abuse import reports
from app.admin import bp
from app.admin.actions import audited_action
from app.admin.forms import ActionForm
from app.core.actor import Actor
from app.core.clock import utcnow
from app.core.paging import newest_in_status
from app.extensions import db
from app.listing.addresses import parse_address
from app.listing.lookup import look_up
from app.models import REPORT_STATUSES, AbuseReport


@bp.get("/reports")
def reports_queue() -> str:
    status = request.args.get("status", "open")
    after = request.args.get("after", type=int)
    page = newest_in_status(AbuseReport, status, REPORT_STATUSES, after)
    return render_template("admin/reports.html", page=page, status=status, statuses=REPORT_STATUSES)


@bp.get("/reports/<int:report_id>")
def report_detail(report_id: int) -> str:
    item = db.get_or_404(AbuseReport, report_id)
    now = utcnow()
    found = [(address, look_up(parse_address(address), now)) for address in item.address_list]
    return render_template("admin/report.html", item=item, found=found, form=ActionForm())


@bp.post("/reports/<int:report_id>/close")
def report_close(report_id: int) -> Response:
    item = db.get_or_404(AbuseReport, report_id)

    def run(why: str, actor: Actor, now: datetime) -> str:
        reports.close(item, actor=actor, why=why, now=now)
        return _l("Report closed.")

    return audited_action(url_for(".report_detail", report_id=item.id), run)
