"""The blank delist form, rendered once per language and completed for each visitor.

The page most visitors open first is the same for everyone but two values: the
CSRF token (tied to the visitor's session) and, when the proof of work is on, the
signed challenge. We render it once per language with placeholders and put the
visitor's values in for each request. Templates, translations and settings do not
change while the app runs (when templates reload, in debug, nothing is kept). A
page with anything else on it (a prefilled IP, errors, a flashed message) is
rendered in full as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from jinja2.utils import htmlsafe_json_dumps

from app.core import stored_renders

TOKEN = "blank-form-csrf-token"  # noqa: S105  (a placeholder, not a secret)
CHALLENGE = "blank-form-challenge"

# What the page renders as its challenge: a real one, the placeholder above, or none.
ChallengeValue = dict[str, Any] | str | None


def _json(value: Any) -> str:
    return str(htmlsafe_json_dumps(value, dumps=current_app.json.dumps))


def page(render: Callable[[str, ChallengeValue], str], new_challenge: dict[str, Any] | None) -> str:
    """The blank form for this visitor; `render(token, challenge)` renders it in full."""
    if not stored_renders.keeps_renders():
        return render(generate_csrf(), new_challenge)
    key = (str(get_locale()), new_challenge is not None)
    cache = current_app.extensions.setdefault("blank_form_pages", {})
    template = cache.get(key)
    if template is None:
        template = cache[key] = render(TOKEN, CHALLENGE if new_challenge else None)
    html = template.replace(TOKEN, generate_csrf(), 1)
    if new_challenge is not None:
        html = html.replace(_json(CHALLENGE), _json(new_challenge), 1)
    return html
