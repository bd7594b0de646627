"""Rendering only: marts -> month-close HTML / XLSX / CSV, and the open month's daily flash
(docs/architecture.md#code-layout).

Reads the public marts and the audit tables of a DuckDB connection and writes files; it never
changes the warehouse and imports nothing from ``pipelines`` or ``sandbox``.

The entry points are imported when first asked for: the processes that draw the PDF statements
import ``reports.customer_statements`` alone, and importing every renderer cost each of them
about half a second.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reports.daily_flash import DailyFlashReport, render_daily_flash
    from reports.month_close import MonthCloseReport, render_month_close

__all__ = ["DailyFlashReport", "MonthCloseReport", "render_daily_flash", "render_month_close"]

_HOMES = {"DailyFlashReport": "reports.daily_flash", "render_daily_flash": "reports.daily_flash",
          "MonthCloseReport": "reports.month_close", "render_month_close": "reports.month_close"}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'reports' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
