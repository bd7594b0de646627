"""Calendar helpers. Times are handled as "local seconds": seconds since 1970-01-01 00:00 of the
GMT+8 wall clock, so that billing-cycle arithmetic never has to think about time zones."""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np
import polars as pl

from .formats import TIME_FORMAT

SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400
_EPOCH = dt.datetime(1970, 1, 1)


def parse_month(month: str) -> tuple[int, int]:
    """'YYYY-MM' → (year, month); raises ValueError on anything else."""
    try:
        year, mon = (int(part) for part in month.split("-"))
    except ValueError:
        raise ValueError(f"month must be 'YYYY-MM', got {month!r}") from None
    if len(month) != 7 or not 1 <= mon <= 12:
        raise ValueError(f"month must be 'YYYY-MM', got {month!r}")
    return year, mon


def add_months(month: str, count: int) -> str:
    year, mon = parse_month(month)
    index = year * 12 + (mon - 1) + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def days_in_month(month: str) -> int:
    return calendar.monthrange(*parse_month(month))[1]


def month_start(month: str) -> int:
    """Local seconds of 00:00:00 on the 1st of `month`."""
    year, mon = parse_month(month)
    return int((dt.datetime(year, mon, 1) - _EPOCH).total_seconds())


def date_of(local_seconds: int) -> dt.date:
    return (_EPOCH + dt.timedelta(seconds=int(local_seconds))).date()


def local_seconds_of(day: dt.date) -> int:
    return (day - _EPOCH.date()).days * SECONDS_PER_DAY


def format_times(local_seconds: np.ndarray) -> pl.Series:
    """Format local seconds as file time strings, computing each distinct value once
    (pay-per-use lines share a few hundred hour boundaries, so this is much cheaper than
    formatting every line)."""
    values = np.asarray(local_seconds, dtype=np.int64)
    if values.size == 0:
        return pl.Series([], dtype=pl.String)
    if values.size > 1 and np.all(values[1:] >= values[:-1]):
        # Sorted input (the usual case): distinct values are the run starts, no sort needed.
        run_starts = np.concatenate(([True], values[1:] != values[:-1]))
        distinct = values[run_starts]
        inverse = np.cumsum(run_starts) - 1
    else:
        distinct, inverse = np.unique(values, return_inverse=True)
    as_datetime = pl.Series(distinct * 1_000_000).cast(pl.Datetime("us"))
    return as_datetime.dt.strftime(TIME_FORMAT).gather(inverse)
