"""The dashboard's charts: the domain packages' figures, laid out by app.admin.charts.

The last 30 days of the list (listings added by source, removed by who) and of requests
(by outcome, who decided, how long removal took), and the last 24 hours of mail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar

from app.admin.charts import Chart, Layer, stacked_bars
from app.delisting import figures as request_figures
from app.listing import flow
from app.mail import activity
from app.models import RequestStatus

P = TypeVar("P", date, datetime)  # a period: a day or an hour
N = TypeVar("N", bound=str)  # a series' name

DAYS = 30
HOURS = 24
MOST_SOURCES = 4  # sources charted by name; the rest together as "other"
REMOVAL_KINDS = ("self-service", "operator", "expiry", "other")
# Colours (tone-N in the stylesheet) that keep their meaning from chart to chart.
TONE = {"self-service": 0, "operator": 3, "expiry": 7, "other": 5, "sent": 2, "failed": 1}


def _day_label(day: str) -> str:
    parsed = date.fromisoformat(day)
    return f"{parsed.day} {parsed:%b}"


def _hour_label(hour: str) -> str:
    return hour[-5:]


def _layers(periods: Sequence[P], counts: Mapping[P, Mapping[N, int]]) -> dict[N, list[float]]:
    """{series: a value per period}, for every series that occurs in `counts`."""
    names = sorted({name for by_name in counts.values() for name in by_name})
    return {name: [counts.get(p, {}).get(name, 0) for p in periods] for name in names}


def _grouped(values: dict[str, list[float]], group: dict[str, str]) -> dict[str, list[float]]:
    grouped: dict[str, list[float]] = {}
    for name, series in values.items():
        into = grouped.setdefault(group[name], [0.0] * len(series))
        grouped[group[name]] = [a + b for a, b in zip(into, series, strict=True)]
    return grouped


def listings_chart(days: list[date]) -> Chart:
    figures = flow.daily(days[0], days[-1])
    added = _layers(days, figures.added)
    named = sorted(added, key=lambda source: -sum(added[source]))[:MOST_SOURCES]
    added = _grouped(added, {s: s if s in named else "other" for s in added})
    removed = _layers(days, figures.removed)
    removed = _grouped(removed, {by: flow.removal_kind(by) for by in removed})
    return stacked_bars(
        "Listings added (above) and removed (below) per day",
        [d.isoformat() for d in days],
        [Layer(f"added: {name}", values) for name, values in added.items()],
        [
            Layer(f"removed: {kind}", removed[kind], tone=TONE[kind])
            for kind in REMOVAL_KINDS
            if kind in removed
        ],
        label_every=7,
        short=_day_label,
    )


def _hours(wait: timedelta) -> float:
    return wait.total_seconds() / 3600


def _duration(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def request_charts(days: list[date], now: datetime) -> list[Chart]:
    figures = request_figures.daily(days[0], now)
    labels = [d.isoformat() for d in days]
    by_status = _layers(days, figures.by_status)
    order = list(RequestStatus)
    outcomes = stacked_bars(
        "Requests by outcome, per day of submission",
        labels,
        [
            Layer(status, by_status[status], tone=order.index(status))
            for status in order
            if status in by_status
        ],
        label_every=7,
        short=_day_label,
    )
    deciders = _layers(days, figures.decided_by)
    decisions = stacked_bars(
        "Self-service removals and operator decisions, per day of submission",
        labels,
        [Layer(name, deciders[name], tone=TONE[name]) for name in sorted(deciders)],
        label_every=7,
        short=_day_label,
    )
    overall = figures.overall_median
    waits = stacked_bars(
        "Median time from submission to removal, per day of submission (hours)",
        labels,
        [Layer("median", [_hours(figures.median_to_removal.get(d, timedelta())) for d in days])],
        label_every=7,
        short=_day_label,
        fmt=lambda hours: f"{hours:.1f}",
        summary="Median time from submission to removal over 30 days: "
        + (_duration(_hours(overall)) if overall is not None else "no removals yet")
        + ".",
    )
    return [outcomes, decisions, waits]


def mail_chart(now: datetime) -> Chart:
    hours = activity.hours_back(now, HOURS)
    counts = activity.hourly(hours[0], now)
    per_status = _layers(hours, counts)
    return stacked_bars(
        "Mail delivered and failed per hour, last 24 hours",
        [h.strftime("%Y-%m-%d %H:00") for h in hours],
        [
            Layer(name, per_status.get(status, [0] * len(hours)), tone=TONE[status])
            for status, name in (("sent", "delivered"), ("failed", "failed"))
        ],
        label_every=6,
        short=_hour_label,
    )


def dashboard_charts(now: datetime) -> list[Chart]:
    """Every chart of the dashboard, for the 30 days (UTC) and 24 hours up to `now`."""
    today = now.date()
    days = [today - timedelta(days=n) for n in reversed(range(DAYS))]
    return [listings_chart(days), *request_charts(days, now), mail_chart(now)]
