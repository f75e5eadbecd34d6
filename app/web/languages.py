"""The languages the portal speaks, and which one a visitor gets.

A visitor's choice from the language switch (a cookie) wins; otherwise the
browser's Accept-Language decides; otherwise English. The operators' pages are
in English only. The CLI and the worker
use English, except for mail about a request, which uses the request's language.
"""

from __future__ import annotations

from flask import has_request_context, request

LANGUAGES = {"en": "English", "ja": "日本語"}
DEFAULT = "en"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
OPERATORS_ONLY = {"admin", "devmail"}  # pages in English only


def offers_a_choice() -> bool:
    """Whether this page speaks every language (and so shows the switch)."""
    return has_request_context() and request.blueprint not in OPERATORS_ONLY


def select_locale() -> str:
    if not offers_a_choice():
        return DEFAULT
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT
