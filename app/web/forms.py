"""The base of every form in the app: Flask-WTF's, with WTForms' own messages kept in memory.

Flask-WTF reads WTForms' message catalog from disk for every request that builds a
form (its translations live on the request). The catalogs do not change while the
app runs, so we load each language's once per process.
"""

from __future__ import annotations

import functools

from babel import support
from flask_babel import LazyString, get_locale
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.i18n import messages_path


@functools.cache
def wtforms_messages(locale: str) -> support.NullTranslations:
    """WTForms' built-in messages ("This field is required.") in `locale`."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class Form(FlaskForm):
    class Meta:
        def get_translations(self, form: Form) -> support.NullTranslations:
            return wtforms_messages(str(get_locale()))


def add_error(field: Field, message: str | LazyString) -> None:
    """Show `message` under `field`, as a failed validator would (after validation ran)."""
    field.errors = [*field.errors, message]
