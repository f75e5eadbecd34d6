"""Sender pages: the delist form, the confirmation link, the request status page, help,
lookup, the language switch and abuse reports.

`submit.py` is the form (`/`), `confirm.py` the emailed link, `status.py` a request's page
and its resend button, `report.py` abuse reports, `pages.py` the pages that change nothing.
They share `forms.py` (the form builds the checked submission and reads a pasted bounce),
`public_form.py` (the proof of work on public forms), `blank_form.py`, `limits.py` (every
rate limit and what it counts) and `outcomes.py` (what each outcome tells the sender).

An edge: may import the domain packages, app.core and app.web, never another edge.
"""

from flask import Blueprint

bp = Blueprint("portal", __name__)

# The views attach to bp.
from app.portal import confirm, pages, report, status, submit  # noqa: E402,F401
