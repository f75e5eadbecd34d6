"""Admin pages for listings: search, detail with history, add, remove, cancel, list again."""

from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.actions import audited_action, operator_actor
from app.admin.forms import ActionForm, ListingForm
from app.core.actor import Actor
from app.core.clock import utcnow
from app.core.errors import DomainError
from app.delisting import review
from app.extensions import db
from app.listing import blocklist
from app.listing.search import STATES, SearchError, history, search
from app.models import Listing


@bp.get("/listings")
def listings() -> tuple[str, int]:
    q, state = request.args.get("q", ""), request.args.get("state", "active")
    now = utcnow()
    try:
        page, error = search(q, state, request.args.get("after", type=int), now), None
    except SearchError as exc:
        page, error = None, str(exc)
    html = render_template(
        "admin/listings.html", page=page, q=q, state=state, states=STATES, error=error, now=now
    )
    return html, 400 if error else 200


@bp.get("/listings/<int:listing_id>")
def listing(listing_id: int) -> str:
    item = db.get_or_404(Listing, listing_id)
    return render_template(
        "admin/listing.html",
        item=item,
        history=history(item),
        now=utcnow(),
        form=ActionForm(),
    )


@bp.route("/listings/new", methods=["GET", "POST"])
def listing_new() -> tuple[str, int] | Response:
    form = ListingForm(network=request.args.get("network", ""))
    if not form.validate_on_submit() or form.parsed is None:
        return _new_listing_page(form)
    try:
        result = blocklist.add_listing(
            form.parsed,
            form.reason.data or "",
            actor=operator_actor(),
            now=utcnow(),
            notes=form.notes_text(),
            lifetime=form.lifetime(),
        )
    except DomainError as exc:  # never listable: too wide, special space, allowlisted
        form.network.errors = [str(exc)]
        return _new_listing_page(form)
    db.session.commit()
    said = _l("%(network)s is listed.") if result.created else _l("%(network)s was listed already.")
    flash(said % {"network": result.listing.network})
    return redirect(url_for(".listing", listing_id=result.listing.id), code=303)


def _new_listing_page(form: ListingForm) -> tuple[str, int]:
    status = 400 if request.method == "POST" else 200
    return render_template("admin/listing_new.html", form=form), status


def _page(item: Listing) -> str:
    return url_for(".listing", listing_id=item.id)


@bp.post("/listings/<int:listing_id>/remove")
def listing_remove(listing_id: int) -> Response:
    item = db.get_or_404(Listing, listing_id)

    def remove(why: str, actor: Actor, now: datetime) -> str:
        blocklist.remove(item, actor=actor, now=now, why=why)
        return _l("Removed now.")

    return audited_action(_page(item), remove)


@bp.post("/listings/<int:listing_id>/cancel-removal")
def listing_cancel_removal(listing_id: int) -> Response:
    item = db.get_or_404(Listing, listing_id)

    def cancel(why: str, actor: Actor, now: datetime) -> str:
        review.cancel_removal(item, actor=actor, now=now, why=why)
        return _l("The scheduled removal is cancelled; the listing stays.")

    return audited_action(_page(item), cancel)


@bp.post("/listings/<int:listing_id>/relist")
def listing_relist(listing_id: int) -> Response:
    item = db.get_or_404(Listing, listing_id)

    def relist(why: str, actor: Actor, now: datetime) -> tuple[str, str]:
        result = blocklist.list_again(item, why, actor=actor, now=now)
        message = _l("Listed again.") if result.created else _l("It is listed already.")
        return message, _page(result.listing)

    return audited_action(_page(item), relist)
