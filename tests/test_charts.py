"""Chart geometry: the shapes stand for the numbers, on one scale, inside the view box."""

import pytest

from app.admin.charts import (
    BOTTOM,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    Layer,
    nice_scale,
    stacked_bars,
)


@pytest.mark.parametrize(
    ("largest", "scale"),
    [
        (0, (1.0, 0.25)),
        (1, (1.0, 1.0)),
        (3, (3.0, 1.0)),
        (7, (8.0, 2.0)),
        (10, (10.0, 5.0)),
        (1_000_000, (1_000_000.0, 500_000.0)),
        (0.3, (0.3, 0.1)),
    ],
)
def test_the_value_axis_ends_on_a_round_number_above_the_largest(largest, scale):
    top, step = scale
    assert nice_scale(largest) == pytest.approx((top, step))


def test_stacked_layers_sit_on_each_other_and_scale_with_their_values():
    chart = stacked_bars("t", ["a", "b"], [Layer("x", [2, 0]), Layer("y", [2, 4])])
    assert chart.baseline == HEIGHT - BOTTOM  # nothing below the line
    a_x, a_y, b_y = chart.bars  # no bar for a zero
    assert (a_x.title, a_y.title, b_y.title) == ("a: x 2", "a: y 2", "b: y 4")
    assert a_x.height == a_y.height and b_y.height == pytest.approx(2 * a_x.height, abs=0.1)
    assert a_y.y + a_y.height == pytest.approx(a_x.y, abs=0.1)  # y is drawn on top of x
    assert b_y.y == TOP  # the tallest bar reaches the top of the scale (4 of 4)
    assert a_x.x == a_y.x < b_y.x
    assert all(bar.x >= LEFT and bar.x + bar.width <= WIDTH - RIGHT for bar in chart.bars)
    assert chart.rows == [("a", ["2", "2"]), ("b", ["0", "4"])]
    assert chart.legend == [(0, "x"), (1, "y")]
    assert chart.summary == "t, a to b: x 2, y 6."


def test_layers_below_the_line_hang_from_it_on_the_same_scale():
    chart = stacked_bars("t", ["a"], [Layer("in", [4])], [Layer("out", [2], tone=6)])
    up, down = chart.bars
    assert up.y + up.height == pytest.approx(chart.baseline, abs=0.1)
    assert down.y == chart.baseline and down.tone == 6
    assert down.height == pytest.approx(up.height / 2, abs=0.1)
    assert TOP < chart.baseline < HEIGHT - BOTTOM
    assert [tick.label for tick in chart.value_ticks] == ["0", "1", "2", "3", "4", "1", "2"]


def test_periods_are_labelled_every_so_often_the_latest_always():
    days = [f"d{n}" for n in range(10)]
    chart = stacked_bars("t", days, [Layer("x", [1] * 10)], label_every=4, short=str.upper)
    assert [tick.label for tick in chart.period_ticks] == ["D1", "D5", "D9"]


def test_an_empty_chart_has_axes_and_no_bars():
    chart = stacked_bars("t", ["a", "b"], [Layer("x", [0, 0])])
    assert chart.is_empty and chart.value_ticks and chart.rows == [("a", ["0"]), ("b", ["0"])]


@pytest.mark.parametrize(
    ("values", "error"), [([1], "one value per period"), ([1, -1], "none may be negative")]
)
def test_a_layer_must_have_one_count_per_period_none_negative(values, error):
    with pytest.raises(ValueError, match=error):
        stacked_bars("t", ["a", "b"], [Layer("x", values)])


def test_large_values_get_short_axis_labels_and_exact_table_figures():
    chart = stacked_bars("t", ["a"], [Layer("x", [1_000_000])])
    assert [tick.label for tick in chart.value_ticks] == ["0", "500k", "1M"]
    assert chart.rows == [("a", ["1,000,000"])]


@pytest.mark.parametrize(("ups", "downs"), [([0], [1000]), ([7], [3]), ([1], [9])])
def test_both_sides_share_one_step_and_stay_inside_the_plot(ups, downs):
    chart = stacked_bars("t", ["a"], [Layer("in", ups)], [Layer("out", downs)])
    ticks = [tick.at for tick in chart.value_ticks]
    assert len(ticks) <= 12 and all(TOP <= at <= HEIGHT - BOTTOM for at in ticks)
    assert min(ticks) == TOP and max(ticks) == HEIGHT - BOTTOM
    assert all(bar.y >= TOP and bar.y + bar.height <= HEIGHT - BOTTOM + 0.1 for bar in chart.bars)
