"""Daily cumulative usage exports (docs/formats.md#daily-usage-exports) derived from a month's lines.

The export made on day N holds every line of the data month whose trade time is at or before
00:00 on day N (data up to day N−1), so each export contains the previous one. A few pay-per-use
lines are re-rated between exports (a small correction of usage and amounts); a correction, once
made, stays in every later export.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from .formats import TIME_FORMAT, USAGE_COLUMNS
from .money import RATE_SCALE, decimal_to_units, units_to_decimal

CORRECTION_STREAM = 103
_CORRECTED_SHARE = 0.01


def export_date_text(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


class UsageExportSeries:
    """All exports of one data month, computed from that month's lines."""

    def __init__(self, month_lines: pl.DataFrame, export_days: list[dt.date], rng: np.random.Generator):
        self.export_days = export_days
        # Fee adjustments are made at the bill run; the usage file never shows them.
        base = month_lines.filter(pl.col("bill_type") != "Adjustment").select(USAGE_COLUMNS)
        cutoffs = [dt.datetime.combine(day, dt.time()).strftime(TIME_FORMAT) for day in export_days]
        # Lines are sorted by trade time and the time text sorts like the time, so each export is a prefix.
        counts = base.select([(pl.col("trade_time") <= cutoff).sum().alias(str(i))
                              for i, cutoff in enumerate(cutoffs)]).row(0) if cutoffs else ()
        self._counts = [int(c) for c in counts]
        self._base = base.head(self._counts[-1]) if self._counts else base.clear()
        self._plan_corrections(rng)

    def _plan_corrections(self, rng: np.random.Generator) -> None:
        rows = self._base.height
        first_export = np.searchsorted(np.array(self._counts, dtype=np.int64), np.arange(rows), side="right")
        last_export = len(self._counts) - 1
        candidate = (self._base["billing_mode"].to_numpy() == 1) & (first_export < last_export)
        self._corrected = candidate & (rng.random(rows) < _CORRECTED_SHARE)
        later = (rng.random(rows) * (last_export - first_export)).astype(np.int64)
        self._corrected_from = np.where(self._corrected, first_export + 1 + later, len(self._counts))
        factor = np.where(rng.random(rows) < 0.5, rng.integers(9_700, 9_990, size=rows),
                          rng.integers(10_010, 10_300, size=rows))

        def rescaled(column: str) -> np.ndarray:
            return decimal_to_units(self._base[column]) * factor // RATE_SCALE

        official, discount = rescaled("official_amount"), rescaled("discount_amount")
        self._corrected_values = pl.DataFrame({
            "usage_amount": rescaled("usage_amount"),
            "official_amount": official,
            "discount_amount": discount,
            "amount_due": official - discount,  # pay-per-use lines carry no truncation
        }).select(units_to_decimal(pl.col(c)).alias(c) for c in ("usage_amount", "official_amount",
                                                                   "discount_amount", "amount_due"))

    @property
    def export_dates(self) -> list[str]:
        return [export_date_text(day) for day in self.export_days]

    def export(self, index: int) -> pl.DataFrame:
        """The `index`-th export (0 = the earliest)."""
        rows = self._counts[index]
        corrected_now = pl.Series(self._corrected[:rows] & (self._corrected_from[:rows] <= index))
        frame = self._base.head(rows)
        if not corrected_now.any():
            return frame
        fixes = self._corrected_values.head(rows)
        return frame.with_columns(
            pl.when(corrected_now).then(fixes[column]).otherwise(pl.col(column)).alias(column)
            for column in fixes.columns
        )
