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
from app.delisting import review
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.listing.search import STATES, SearchError, history, search
from app.models import Listing


@bp.get("/listings")
def listings() -> tuple[str, int]:
    q = request.args.get("q", "")
    state = request.args.get("state", "active")
    after = request.args.get("after", type=int)
    try:
        page = search(q, state, after, utcnow())
        error = None
    except SearchError as exc:
        page, error = None, str(exc)
    status = 400 if error else 200
    page_html = render_template(
        "admin/listings.html",
        page=page,
        q=q,
        state=state,
        states=STATES,
        error=error,
        now=utcnow(),
    )
    return page_html, status


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
        status = 400 if request.method == "POST" else 200
        return render_template("admin/listing_new.html", form=form), status
    result = blocklist.add_listing(
        form.parsed,
        form.reason.data or "",
        actor=operator_actor(),
        now=utcnow(),
        notes=form.notes_text(),
    )
    db.session.commit()
    if result.created:
        flash(_l("%(network)s is listed.", network=result.listing.network))
    else:
        flash(_l("%(network)s was listed already.", network=result.listing.network))
    return redirect(url_for(".listing", listing_id=result.listing.id), code=303)


def _page(item: Listing) -> str:
    return url_for(".listing", listing_id=item.id)


@bp.post("/listings/<int:listing_id>/remove")
def listing_remove(listing_id: int) -> Response:
    item = db.get_or_404(Listing, listing_id)

    def remove(why: str, actor: Actor, now: datetime) -> str:
        if not item.in_force_at(now):
            return _l("This listing is not in force; nothing was changed.")
        blocklist.remove(item, actor=actor, now=now, why=why)
        return _l("Removed now.")

    return audited_action(_page(item), remove)


@bp.post("/listings/<int:listing_id>/cancel-removal")
def listing_cancel_removal(listing_id: int) -> Response:
    item = db.get_or_404(Listing, listing_id)

    def cancel(why: str, actor: Actor, now: datetime) -> str:
        if not item.in_force_at(now) or item.removal_effective_at is None:
            return _l("No removal is waiting; nothing was changed.")
        review.cancel_removal(item, actor=actor, now=now, why=why)
        return _l("The scheduled removal is cancelled; the listing stays.")

    return audited_action(_page(item), cancel)


@bp.post("/listings/<int:listing_id>/relist")
def listing_relist(listing_id: int) -> Response:
    item = db.get_or_404(Listing, listing_id)

    def relist(why: str, actor: Actor, now: datetime) -> tuple[str, str]:
        result = blocklist.add_listing(
            parse_network(item.network),
            why,
            actor=actor,
            now=now,
            notes=f"listed again after listing #{item.id}",
        )
        message = _l("Listed again.") if result.created else _l("It is listed already.")
        return message, _page(result.listing)

    return audited_action(_page(item), relist)
