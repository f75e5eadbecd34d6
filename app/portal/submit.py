"""The delist form (`/`): show it, read a pasted bounce, and submit a request."""

from __future__ import annotations

from datetime import datetime

from flask import request
from flask.typing import ResponseReturnValue

from app.core import transactions
from app.core.actor import Actor
from app.core.clock import utcnow
from app.delisting import submission
from app.delisting.bounces import BounceFacts
from app.delisting.submission import Outcome
from app.extensions import csrf, db
from app.listing.addresses import parse_address
from app.listing.lookup import look_up
from app.portal import bp, outcomes
from app.portal.forms import MAX_IP_LENGTH, DelistForm, normalised_ip, sent_delist_form
from app.portal.limits import count_mail, submit_limits
from app.portal.public_form import blank_form_page, challenge_refused, form_page
from app.web import metrics


# The two sender forms check their CSRF token themselves (FlaskForm), so that an
# expired token re-shows the form with what was typed instead of a bare error page.
@bp.route("/", methods=["GET", "POST"])
@csrf.exempt
@submit_limits
def index() -> ResponseReturnValue:
    if request.method != "POST":  # GET, and HEAD like it
        return _empty_form()
    transactions.begin_at_first_write()  # reads first; the writes, if any, are one transaction
    form = sent_delist_form()
    now = utcnow()
    if form.find.data or form.choose.data:
        return _found_in_bounce(form, now)
    form.take_ip_from_bounce()
    bounce = form.bounce_facts()
    if not form.validate_on_submit():
        return form_page(form, bounce=bounce), 400
    if form.ip_needs_a_second_look():
        return form_page(form, bounce=bounce, typed_ip=form.ip.data)
    if challenge_refused(form, now):
        return form_page(form, bounce=bounce), 400
    return _submit(form, now)


def _empty_form() -> str:
    """The form, blank or with the IP from the lookup page's "Start the removal"."""
    prefill = request.args.get("ip", "")[:MAX_IP_LENGTH]
    if not prefill:
        return blank_form_page()
    form = DelistForm()
    form.ip.data = prefill
    return form_page(form)


def _found_in_bounce(form: DelistForm, now: datetime) -> str:
    """Find, or choosing among the addresses a bounce names: put the address in the IP field
    and say what we know of it."""
    typed = normalised_ip(form.typed_ip())
    bounce = form.bounce_facts() or BounceFacts()
    address = form.bounce_address()
    form.put_bounce_ip_in_field()
    listed = look_up(parse_address(address), now) if address else None
    replaced = typed if typed and address and typed != address else None
    return form_page(
        form, bounce=bounce, found=True, address=address, listed=listed, replaced_ip=replaced
    )


def _submit(form: DelistForm, now: datetime) -> ResponseReturnValue:
    """Open or follow the IP's request, and answer with what happened."""
    sent = form.submission()
    actor = Actor.sender(request.remote_addr)
    result = submission.submit(sent.email, sent.address, actor=actor, locale=sent.locale, now=now)
    if result.outcome is Outcome.NOT_LISTED:
        page = form_page(form, not_listed=form.ip.data)
    else:
        page = outcomes.submitted_page(result, sent.email, str(sent.address))
    # Rendered before the commit, while the rows are loaded: after it they would be read
    # again. A failed commit raises, and this page is never sent.
    db.session.commit()
    count_mail(result)
    metrics.count_submission(result.outcome)
    return (page, *outcomes.status_and_headers(result, now))
