"""Template filters for times and durations, in the reader's language."""

from datetime import datetime, timedelta

from flask import Flask
from flask_babel import format_datetime, format_timedelta, get_locale
from flask_babel import gettext as _

from app.web.languages import LANGUAGES, offers_a_choice


def when(value: datetime | None) -> str:
    """A point in time, always shown in UTC and saying so."""
    if value is None:
        return ""
    return _("%(time)s UTC", time=format_datetime(value, "medium"))


def duration(seconds: int) -> str:
    """A delay such as "1 hour"; zero reads as "immediately"."""
    if seconds <= 0:
        return _("immediately")
    return format_timedelta(timedelta(seconds=seconds), threshold=1.0, add_direction=False)


def register(app: Flask) -> None:
    app.add_template_filter(when)
    app.add_template_filter(duration)
    app.add_template_global(get_locale)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.add_template_global(offers_a_choice)
