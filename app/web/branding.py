"""Who runs this portal, as pages and mails say it: the portal's title, the operator's name and
the contact address, in the reader's language.

A name setting has a variant per language other than English (`PORTAL_TITLE_JA`); a reader
gets their language's variant, else the English setting, else our own title in their
language. The listing policy's text is a template the theme may replace per language
(`portal/_criteria.ja.html`, else `portal/_criteria.html`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from app.web.languages import DEFAULT


@dataclass(frozen=True)
class Branding:
    title: str
    operator: str | None
    contact: str | None


def _in_language(name: str, language: str) -> str | None:
    config = current_app.config
    if language != DEFAULT and config.get(f"{name}_{language.upper()}"):
        return config[f"{name}_{language.upper()}"]
    return config.get(name) or None


def branding() -> Branding:
    """The operator's names in the reader's language (a page's, or a mail's)."""
    language = str(get_locale() or DEFAULT)
    return Branding(
        title=_in_language("PORTAL_TITLE", language) or _("Delist portal"),
        operator=_in_language("OPERATOR_NAME", language),
        contact=current_app.config.get("CONTACT_EMAIL") or None,
    )


def criteria_templates() -> list[str]:
    """The listing criteria's text: the theme's for the reader's language first."""
    return [f"portal/_criteria.{get_locale()}.html", "portal/_criteria.html"]


def register(app: Flask) -> None:
    """Every template, mails included, gets `brand` in its own language."""
    app.context_processor(lambda: {"brand": branding()})
    app.add_template_global(criteria_templates)
