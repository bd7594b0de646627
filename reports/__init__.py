"""Rendering only: marts -> month-close HTML / XLSX / CSV (see DESIGN.md, ``reports/``).

Reads the public marts and the audit tables of a DuckDB connection and writes files; it never
changes the warehouse and imports nothing from ``pipelines`` or ``sandbox``.
"""

from reports.month_close import MonthCloseReport, render_month_close, validate_bill_cycle

__all__ = ["MonthCloseReport", "render_month_close", "validate_bill_cycle"]
