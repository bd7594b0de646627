"""Geometry of the inline SVG charts.

This module only computes coordinates and label texts; the SVG markup itself is written by the
HTML template, so every label taken from the data goes through jinja2 autoescape like the rest of
the page. Coordinates are rounded to 0.1 px to keep the markup short and byte-stable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from reports.formatting import format_money, is_negative

CHART_WIDTH = 880
ROW_HEIGHT = 26
BAR_HEIGHT = 16
LABEL_WIDTH = 250
VALUE_TEXT_WIDTH = 96
TOP_PADDING = 6
AXIS_HEIGHT = 26
MAX_LABEL_CHARS = 36


@dataclass(frozen=True)
class Bar:
    """One bar with its category label (left) and value label (at the bar's end)."""

    label: str
    full_label: str
    value_text: str
    negative: bool
    label_y: float
    bar_x: float
    bar_y: float
    bar_width: float
    value_x: float
    value_anchor: str


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class HorizontalBarChart:
    width: int
    height: int
    label_x: float
    bar_height: int
    plot_top: float
    plot_bottom: float
    zero_x: float
    bars: list[Bar]
    ticks: list[Tick]


def shorten(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """Cut a label that would run into the bars; the full text stays in the SVG tooltip."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def nice_step(span: float, target_ticks: int = 5) -> float:
    """A round grid step (1, 2, 2.5 or 5 × 10^n) giving about ``target_ticks`` intervals."""
    raw = span / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def compact_amount(value: float) -> str:
    """Axis label such as ``250k`` or ``1.5M``; exact amounts are on the bars themselves."""
    magnitude = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= threshold:
            return f"{value / threshold:,.4g}{suffix}"
    return f"{value:,.4g}"


def horizontal_bar_chart(items: Sequence[tuple[str, Decimal]]) -> HorizontalBarChart:
    """Lay out one bar per ``(label, amount)`` in the given order, negatives to the left of zero."""
    values = [float(amount) for _, amount in items]
    low = min([0.0, *values])
    high = max([0.0, *values])
    if low == high:
        high = 1.0  # all zero: draw an axis with empty bars rather than divide by zero

    step = nice_step(high - low)
    low = math.floor(low / step) * step
    high = math.ceil(high / step) * step

    # Negative bars carry their value label on their left, so they need room there.
    plot_left = LABEL_WIDTH + (VALUE_TEXT_WIDTH if low < 0 else 8)
    plot_right = CHART_WIDTH - VALUE_TEXT_WIDTH
    scale = (plot_right - plot_left) / (high - low)

    def x_of(value: float) -> float:
        return round(plot_left + (value - low) * scale, 1)

    zero_x = x_of(0.0)
    bars = []
    for index, ((label, amount), value) in enumerate(zip(items, values, strict=True)):
        row_top = TOP_PADDING + index * ROW_HEIGHT
        end_x = x_of(value)
        negative = value < 0
        bars.append(
            Bar(
                label=shorten(label),
                full_label=label,
                value_text=format_money(amount),
                negative=is_negative(amount),
                label_y=round(row_top + ROW_HEIGHT / 2, 1),
                bar_x=min(zero_x, end_x),
                bar_y=round(row_top + (ROW_HEIGHT - BAR_HEIGHT) / 2, 1),
                bar_width=round(abs(end_x - zero_x), 1),
                value_x=round(end_x - 6, 1) if negative else round(end_x + 6, 1),
                value_anchor="end" if negative else "start",
            )
        )

    plot_bottom = TOP_PADDING + len(items) * ROW_HEIGHT
    tick_count = round((high - low) / step)
    tick_values = [low + i * step for i in range(tick_count + 1)]
    # Float steps leave residues such as 1e-17 where zero is meant; snap them so the axis
    # never shows "-0".
    tick_values = [0.0 if abs(v) < step * 1e-9 else v for v in tick_values]
    ticks = [Tick(x=x_of(v), text=compact_amount(v)) for v in tick_values]
    return HorizontalBarChart(
        width=CHART_WIDTH,
        height=plot_bottom + AXIS_HEIGHT,
        label_x=LABEL_WIDTH - 8,
        bar_height=BAR_HEIGHT,
        plot_top=TOP_PADDING,
        plot_bottom=plot_bottom,
        zero_x=zero_x,
        bars=bars,
        ticks=ticks,
    )
