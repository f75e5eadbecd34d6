"""Admin page for the allowlist: the networks no path may list, adding and removing them."""

from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.actions import audited_action, operator_actor
from app.admin.forms import ActionForm, AllowlistForm
from app.core.actor import Actor
from app.core.clock import utcnow
from app.core.errors import DomainError
from app.extensions import db
from app.listing import allowlist
from app.models import AllowlistEntry


def _page(form: AllowlistForm, status: int = 200) -> tuple[str, int]:
    entries = allowlist.entries()
    html = render_template("admin/allowlist.html", entries=entries, form=form, action=ActionForm())
    return html, status


@bp.get("/allowlist")
def allowlist_page() -> tuple[str, int]:
    return _page(AllowlistForm(network=request.args.get("network", "")))


@bp.post("/allowlist")
def allowlist_add() -> Response | tuple[str, int]:
    form = AllowlistForm()
    if not form.validate_on_submit() or form.parsed is None:
        return _page(form, 400)
    now = utcnow()
    try:
        entry = allowlist.add(form.parsed, form.reason.data or "", actor=operator_actor(), now=now)
    except DomainError as exc:
        form.network.errors = [str(exc)]
        return _page(form, 400)
    db.session.commit()
    flash(_l("%(network)s is on the allowlist.", network=entry.network))
    for listing in allowlist.overlapping_listings(form.parsed, now):
        flash(_l("Still listed: %(network)s. Remove it if it must go.", network=listing.network))
    return redirect(url_for(".allowlist_page"), code=303)


@bp.post("/allowlist/<int:entry_id>/remove")
def allowlist_remove(entry_id: int) -> Response:
    entry = db.get_or_404(AllowlistEntry, entry_id)

    def remove(why: str, actor: Actor, now: datetime) -> str:
        allowlist.remove(entry, actor=actor, now=now, why=why)
        return _l("%(network)s is off the allowlist.", network=entry.network)

    return audited_action(url_for(".allowlist_page"), remove)
