"""Template filters for times and durations, in the reader's language: the one home of
every time a page or a mail shows.

A time reads in the reader's zone where we know it, with UTC beside it, and names its zone.
Without script and in mail the language decides: Japanese readers get Japan time (JST) with
UTC beside it, everyone else UTC. On pages each time is a `<time datetime="...Z">` element,
which static/times.js rewrites into the browser's own zone, UTC still beside it.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time
from babel.units import format_unit
from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from app.web.languages import LANGUAGES, offers_a_choice

# A language's readers' zone, where most of them live in one; UTC for the others.
ZONES = {"ja": ZoneInfo("Asia/Tokyo")}


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time we store is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def time_text(value: datetime | None) -> str:
    """A point in time as plain text: in the reader's language's zone with UTC beside it,
    or in UTC; always saying which zone."""
    if value is None:
        return ""
    value = _utc(value)
    locale = get_locale()
    zone = ZONES.get(str(locale))
    if zone is None:
        return _("%(time)s UTC", time=format_datetime(value, "medium", tzinfo=UTC, locale=locale))
    local = " ".join(format_datetime(value, f, tzinfo=zone, locale=locale) for f in ("medium", "z"))
    same_day = value.astimezone(zone).date() == value.date()
    utc = (format_time if same_day else format_datetime)(value, "medium", tzinfo=UTC, locale=locale)
    return _("%(local)s (%(utc)s)", local=local, utc=utc + " UTC")


def iso_utc(value: datetime) -> str:
    """The instant as ISO 8601 in UTC, as `<time datetime>` and scripts read it."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


@pass_eval_context
def when(eval_ctx: EvalContext, value: datetime | None) -> str:
    """A point in time for a template: a `<time>` element in HTML, plain text in text mail."""
    text = time_text(value)
    if value is None or not eval_ctx.autoescape:
        return text
    return Markup('<time datetime="{}">{}</time>').format(iso_utc(value), text)


def beside_pattern() -> str:
    """How a local time and the UTC time beside it are put together, for static/times.js."""
    return _("%(local)s (%(utc)s)", local="{local}", utc="{utc}")


# Units a duration is said in, largest first (a year of 365 days, as the settings count).
UNITS = (
    ("duration-year", 365 * 86400),
    ("duration-week", 7 * 86400),
    ("duration-day", 86400),
    ("duration-hour", 3600),
    ("duration-minute", 60),
    ("duration-second", 1),
)


def duration(seconds: int) -> str:
    """A delay such as "1 hour" or "10 days", exact (never rounded: the policy page states
    the settings); zero reads as "immediately"."""
    if seconds <= 0:
        return _("immediately")
    unit, size = next((unit, size) for unit, size in UNITS if seconds % size == 0)
    return format_unit(seconds // size, unit, locale=get_locale())


def register(app: Flask) -> None:
    app.add_template_filter(when)
    app.add_template_filter(duration)
    app.add_template_global(get_locale)
    app.add_template_global(beside_pattern)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.add_template_global(offers_a_choice)
