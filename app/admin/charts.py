"""Chart geometry: series of numbers in, shapes for a server-rendered SVG out.

Pure functions, no Flask and no database: the dashboard gathers the series, these place
them in a fixed view box (the SVG scales to any width), and the template draws the shapes
and the same numbers as a table. Styling is by class (`tone-N`), from the stylesheet: the
Content-Security-Policy allows no inline style.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 400
HEIGHT = 190
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 10, 22  # room for the value and period labels
TONES = 8  # tone-0 .. tone-7 in the stylesheet


@dataclass(frozen=True)
class Layer:
    """One series: its name and a value per period (stacked on the layers before it),
    and its colour (`tone`; by default its place among the layers)."""

    name: str
    values: Sequence[float]
    tone: int | None = None


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    tone: int
    title: str  # the period, the layer and its value, shown on hover


@dataclass(frozen=True)
class Tick:
    at: float  # x of a period label or y of a value line
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    summary: str  # what a screen reader says for the picture; the table has the rest
    bars: list[Bar]
    value_ticks: list[Tick]
    period_ticks: list[Tick]
    baseline: float  # y of the zero line
    legend: list[tuple[int, str]]  # (tone, name)
    columns: list[str]  # the table: one column per layer
    rows: list[tuple[str, list[str]]]  # (period, the layers' values formatted)
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT

    @property
    def is_empty(self) -> bool:
        return not self.bars


def nice_scale(largest: float, steps: int = 4) -> tuple[float, float]:
    """A round top and step for a value axis that holds `largest` (1, 2 or 5 times 10^n)."""
    if largest <= 0:
        return 1.0, 1.0 / steps
    raw = largest / steps
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if step < 1 and largest >= 1:
        step = 1.0
    return step * math.ceil(largest / step - 1e-9), step


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _compact(value: float, fmt: Callable[[float], str]) -> str:
    """An axis label that fits the margin: 20k, 1.5M (the table has the exact figures)."""
    for size, suffix in ((1_000_000, "M"), (10_000, "k")):
        if value >= size:
            scaled = value / (1000 if suffix == "k" else size)
            return f"{scaled:g}{suffix}"
    return fmt(value)


def _round(value: float) -> float:
    return round(value, 1)


def stacked_bars(
    title: str,
    periods: Sequence[str],
    up: Sequence[Layer],
    down: Sequence[Layer] = (),
    *,
    label_every: int = 1,
    short: Callable[[str], str] = str,
    fmt: Callable[[float], str] = _number,
    summary: str | None = None,
) -> Chart:
    """Bars per period: the `up` layers stacked above the zero line, the `down` layers
    (if any) below it, on one scale. `periods` name the bars (and the table's rows);
    every `label_every`-th period is labelled under the axis with `short(period)`.
    `summary` replaces the spoken summary (by default, each layer's total)."""
    layers = [*up, *down]
    count = len(periods)
    if any(len(layer.values) != count for layer in layers):
        raise ValueError("every layer needs one value per period")
    if any(v < 0 for layer in layers for v in layer.values):
        raise ValueError("values are counts or durations: none may be negative")
    highs = [sum(layer.values[i] for layer in up) for i in range(count)]
    lows = [sum(layer.values[i] for layer in down) for i in range(count)]
    top, step = nice_scale(max(highs, default=0))
    bottom = nice_scale(max(lows, default=0))[0] if any(lows) else 0.0
    span = top + bottom
    plot_height = HEIGHT - TOP - BOTTOM
    per_unit = plot_height / span
    baseline = TOP + top * per_unit
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    bar_width = max(slot * 0.72, 1.0)

    tones = [(i if layer.tone is None else layer.tone) % TONES for i, layer in enumerate(layers)]
    bars: list[Bar] = []
    for i, period in enumerate(periods):
        x = LEFT + i * slot + (slot - bar_width) / 2
        for stack, sign, first in ((up, -1, 0), (down, 1, len(up))):
            level = 0.0
            for j, layer in enumerate(stack):
                value = layer.values[i]
                if value <= 0:
                    continue
                tone = tones[first + j]
                start, level = level, level + value
                edge = baseline + sign * (level if sign < 0 else start) * per_unit
                bars.append(
                    Bar(
                        _round(x),
                        _round(edge),
                        _round(bar_width),
                        _round(value * per_unit),
                        tone,
                        f"{period}: {layer.name} {fmt(value)}",
                    )
                )
    value_ticks = [
        Tick(_round(baseline - k * step * per_unit), _compact(k * step, fmt))
        for k in range(round(top / step) + 1)
    ]
    value_ticks += [
        Tick(_round(baseline + k * step * per_unit), _compact(k * step, fmt))
        for k in range(1, round(bottom / step) + 1)
    ]
    period_ticks = [
        Tick(_round(LEFT + (i + 0.5) * slot), short(period))
        for i, period in enumerate(periods)
        if (count - 1 - i) % label_every == 0  # the latest period is always labelled
    ]
    return Chart(
        title=title,
        summary=summary or _summary(title, periods, layers),
        bars=bars,
        value_ticks=value_ticks,
        period_ticks=period_ticks,
        baseline=_round(baseline),
        legend=[(tone, layer.name) for tone, layer in zip(tones, layers, strict=True)],
        columns=[layer.name for layer in layers],
        rows=[
            (period, [fmt(layer.values[i]) for layer in layers]) for i, period in enumerate(periods)
        ],
    )


def _summary(title: str, periods: Sequence[str], layers: Sequence[Layer]) -> str:
    if not periods:
        return f"{title}: no figures."
    totals = ", ".join(f"{layer.name} {_number(sum(layer.values))}" for layer in layers)
    return f"{title}, {periods[0]} to {periods[-1]}: {totals or 'nothing'}."
