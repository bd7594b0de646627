"""Rendering only: marts -> month-close HTML / XLSX / CSV, and the open month's daily flash
(docs/architecture.md#code-layout).

Reads the public marts and the audit tables of a DuckDB connection and writes files; it never
changes the warehouse and imports nothing from ``pipelines`` or ``sandbox``.
"""

from reports.daily_flash import DailyFlashReport, render_daily_flash
from reports.month_close import MonthCloseReport, render_month_close

__all__ = ["DailyFlashReport", "MonthCloseReport", "render_daily_flash", "render_month_close"]
