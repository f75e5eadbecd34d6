"""Pages and mails rendered once per language with placeholders, and filled in for each use.

A submission's answer page, its confirmation mail and the Delist IP page are the same
for every sender but a few values: an address, a link, a token. Rendering a template
costs a millisecond or so; putting a few strings into a stored render costs microseconds.
So these are rendered once per language (and per `shape`: whatever changes which parts
of the template are shown) with a placeholder for each value, kept for the life of the
process, and completed by string replacement.

The values must come out of the template as they went in: text shown as it is, or a
URL-safe string (no filter, URL quoting or formatting may change them). In HTML each
value is escaped as Jinja escapes it; `Markup` goes in as it is. The tests compare each
stored render with a full one, in both languages. When templates reload (debug), or
the visitor has flashed messages waiting, nothing is kept: the template is rendered
in full. Nor is a render that already holds one of its use's own values (a theme's
template that writes `request.path`, say, instead of the value given): kept, it would
show one visitor's link to the next.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from flask import current_app, has_request_context, render_template, session
from flask_babel import get_locale
from markupsafe import escape

_CACHE = "stored_renders"


def placeholder(name: str) -> str:
    """What stands for the value `name` in a stored render (plain, URL-safe text)."""
    return f"stored-render-value-{name}-here"


def _kept(template: str, values: Mapping[str, str], context: Mapping[str, Any]) -> str | None:
    """The render with placeholders, or None when it holds one of this use's own values:
    then the template took the value from elsewhere (a theme's `request.path`, say), and a
    kept copy would show one visitor's value, a link's token, to the next."""
    text = render_template(template, **context, **{name: placeholder(name) for name in values})
    if any(value and value in text for value in values.values()):
        return None
    return text


def keeps_renders() -> bool:
    """False while templates reload (debug), or when a flashed message waits to be shown."""
    app = current_app
    if app.debug or app.jinja_env.auto_reload:
        return False
    return not (has_request_context() and session.get("_flashes"))


def render(
    template: str,
    values: Mapping[str, str],
    *,
    shape: Hashable = None,
    **context: Any,
) -> str:
    """`template` rendered with `context` and `values`, from the stored render of this
    template, language and `shape` (rendered with placeholders on first use).

    `context` must be the same for every call with one `shape`: only `values` change.
    """
    if not keeps_renders():
        return render_template(template, **context, **values)
    key = (template, str(get_locale()), shape)
    stored: dict[Any, str | None] = current_app.extensions.setdefault(_CACHE, {})
    if key not in stored:
        stored[key] = _kept(template, values, context)
    text = stored[key]
    if text is None:
        return render_template(template, **context, **values)
    html = template.endswith(".html")
    for name, value in values.items():
        text = text.replace(placeholder(name), str(escape(value)) if html else value)
    return text
