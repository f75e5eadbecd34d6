"""Headers every operator response carries: nothing under /admin is kept by any cache."""

from __future__ import annotations

from flask import Response

from app.admin import bp


@bp.after_request
def no_store(response: Response) -> Response:
    # Lists of senders, audit trails and CSV exports must not outlive the session in a
    # browser cache or a shared proxy; the sign-in pages neither.
    response.headers["Cache-Control"] = "no-store"
    return response
