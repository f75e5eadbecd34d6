"""Translated strings in templates, with the page's catalog looked up once per page.

Flask-Babel's template functions find the catalog again for every string: the
locale, the domain and the cache are each read through Flask's context-local
proxies, a dozen lookups per string, and a page has dozens of strings. Here a
context processor puts the catalog in the template context when rendering starts
(inside `force_locale` too, so mail templates get the mail's language), and the
gettext functions read it from there. Templates that run without that context,
such as macros imported without it, fall back to Flask-Babel's own lookup.
"""

from __future__ import annotations

from babel.support import NullTranslations
from flask import Flask
from flask_babel import get_translations
from jinja2 import pass_context
from jinja2.runtime import Context

CATALOG = "_catalog"


def _catalog(context: Context) -> NullTranslations:
    catalog = context.get(CATALOG)
    return catalog if catalog is not None else get_translations()


@pass_context
def _gettext(context: Context, string: str) -> str:
    return _catalog(context).ugettext(string)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return _catalog(context).ungettext(singular, plural, n)


@pass_context
def _pgettext(context: Context, message_context: str, string: str) -> str:
    return _catalog(context).upgettext(message_context, string)


@pass_context
def _npgettext(context: Context, message_context: str, singular: str, plural: str, n: int) -> str:
    return _catalog(context).unpgettext(message_context, singular, plural, n)


def register(app: Flask) -> None:
    """Replace Flask-Babel's template gettext functions (call after babel.init_app)."""
    # A method the i18n extension adds to the environment, which the type checker cannot see.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext,
        ngettext=_ngettext,
        pgettext=_pgettext,
        npgettext=_npgettext,
        newstyle=True,
    )
    app.context_processor(lambda: {CATALOG: get_translations()})
