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
    if any(len(layer.values) != len(periods) for layer in layers):
        raise ValueError("every layer needs one value per period")
    if any(v < 0 for layer in layers for v in layer.values):
        raise ValueError("values are counts or durations: none may be negative")
    scale = _Scale.fitting(up, down, len(periods))
    tones = [(i if layer.tone is None else layer.tone) % TONES for i, layer in enumerate(layers)]
    slot = (WIDTH - LEFT - RIGHT) / max(len(periods), 1)
    return Chart(
        title=title,
        summary=summary or _summary(title, periods, layers),
        bars=_bars(periods, up, down, tones, scale, slot, fmt),
        value_ticks=scale.ticks(fmt),
        period_ticks=[
            Tick(_round(LEFT + (i + 0.5) * slot), short(period))
            for i, period in enumerate(periods)
            if (len(periods) - 1 - i) % label_every == 0  # the latest is always labelled
        ],
        baseline=_round(scale.baseline),
        legend=[(tone, layer.name) for tone, layer in zip(tones, layers, strict=True)],
        columns=[layer.name for layer in layers],
        rows=[(p, [fmt(layer.values[i]) for layer in layers]) for i, p in enumerate(periods)],
    )


@dataclass(frozen=True)
class _Scale:
    """One value axis for both sides of the zero line: a whole number of steps each way."""

    top: float
    bottom: float
    step: float

    @classmethod
    def fitting(cls, up: Sequence[Layer], down: Sequence[Layer], count: int) -> _Scale:
        high = max((sum(layer.values[i] for layer in up) for i in range(count)), default=0)
        low = max((sum(layer.values[i] for layer in down) for i in range(count)), default=0)
        if not high and not low:
            top, step = nice_scale(0)
            return cls(top, 0.0, step)
        step = nice_scale(max(high, low))[1]
        return cls(step * math.ceil(high / step - 1e-9), step * math.ceil(low / step - 1e-9), step)

    @property
    def per_unit(self) -> float:
        return (HEIGHT - TOP - BOTTOM) / (self.top + self.bottom)

    @property
    def baseline(self) -> float:
        return TOP + self.top * self.per_unit

    def ticks(self, fmt: Callable[[float], str]) -> list[Tick]:
        above = [(-k, k * self.step) for k in range(round(self.top / self.step) + 1)]
        below = [(k, k * self.step) for k in range(1, round(self.bottom / self.step) + 1)]
        return [
            Tick(_round(self.baseline + k * self.step * self.per_unit), _compact(value, fmt))
            for k, value in above + below
        ]


def _bars(
    periods: Sequence[str],
    up: Sequence[Layer],
    down: Sequence[Layer],
    tones: list[int],
    scale: _Scale,
    slot: float,
    fmt: Callable[[float], str],
) -> list[Bar]:
    """Each layer's bar in each period, stacked upwards from the line or downwards."""
    width = max(slot * 0.72, 1.0)
    bars = []
    for i, period in enumerate(periods):
        x = LEFT + i * slot + (slot - width) / 2
        for stack, downwards, first in ((up, False, 0), (down, True, len(up))):
            level = 0.0
            for j, layer in enumerate(stack):
                value = layer.values[i]
                if value <= 0:
                    continue
                start, level = level, level + value
                offset = start if downwards else -level
                y = scale.baseline + offset * scale.per_unit
                height = value * scale.per_unit
                title = f"{period}: {layer.name} {fmt(value)}"
                bars.append(
                    Bar(
                        _round(x), _round(y), _round(width), _round(height), tones[first + j], title
                    )
                )
    return bars


def _summary(title: str, periods: Sequence[str], layers: Sequence[Layer]) -> str:
    if not periods:
        return f"{title}: no figures."
    totals = ", ".join(f"{layer.name} {_number(sum(layer.values))}" for layer in layers)
    return f"{title}, {periods[0]} to {periods[-1]}: {totals or 'nothing'}."
