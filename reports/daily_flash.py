"""Entry point: the daily flash report of the open month.

``render_daily_flash`` writes, into the directory it is given (``<reports root>/<open month>/``):

- ``daily_flash_<YYYY-MM-DD>.html``: one self-contained page for finance: month-to-date spend at
  list price, the forecast to month end, budgets, the top movers against the same days of the
  previous month, spend by service;
- ``daily_flash_<YYYY-MM-DD>.csv``: the per-customer figures behind it.

The date is the newest usage export's date (the export of day N holds usage up to day N − 1), so
each night's flash is a new pair of files and earlier ones stay as they were. Like the month
close, the same warehouse gives the same bytes, text is escaped (HTML) or neutralised (CSV), and
every file is replaced atomically.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb

from reports import charts
from reports.files import atomic_output_path
from reports.flash_data import BUDGET_LIMIT, MOVER_LIMIT, TOP_CUSTOMER_LIMIT, FlashData, load_flash_data
from reports.formatting import CURRENCY, plain_decimal
from reports.html import CHART_SERVICE_LIMIT, template_environment, write_html
from reports.safety import neutralise_spreadsheet_text
from schemas.bill_cycle import BillCycle
from schemas.money import MONEY_QUANTUM

DAILY_FLASH_TEMPLATE = "daily_flash.html.j2"

UTF8_BOM = "\ufeff".encode("utf-8")
_SIX_PLACES = Decimal("0.000001")

# (header, field, kind) of the per-customer CSV.
CSV_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("customer_id", "customer_id", "text"),
    ("customer_name", "customer_name", "text"),
    ("mtd_official_amount", "mtd_official_amount", "money"),
    ("mtd_amount_due", "mtd_amount_due", "money"),
    ("mtd_usage_lines", "mtd_line_count", "count"),
    ("previous_same_days_official_amount", "previous_official_amount", "money"),
    ("change_amount", "change_amount", "money"),
    ("change_ratio", "change_ratio", "ratio"),
    ("budget_amount", "budget_amount", "money"),
    ("utilisation_ratio", "utilisation_ratio", "ratio"),
    ("threshold_crossed_ratio", "threshold_crossed_ratio", "ratio"),
    ("forecast_amount", "forecast_amount", "money"),
)


@dataclass(frozen=True)
class DailyFlashReport:
    """The files one rendering wrote."""

    bill_cycle: str
    export_date: date
    html: Path
    csv: Path

    @property
    def paths(self) -> list[Path]:
        return [self.html, self.csv]


def render_daily_flash(
    con: duckdb.DuckDBPyConnection,
    bill_cycle: str,
    out_dir: Path,
    notes: Sequence[str] = (),
    *,
    api_configured: bool | None = None,
    currency: str = CURRENCY,
) -> DailyFlashReport:
    """Render the flash of ``bill_cycle``'s newest usage export into ``out_dir``.

    Raises ``reports.flash_data.NoUsageExport`` when the cycle has no staged usage export.
    ``api_configured=False`` makes the budget section say the BSS partner API is not configured.
    ``currency`` labels the amounts (the account's, with partners.toml).
    """
    bill_cycle = str(BillCycle.parse(bill_cycle))  # a ValueError unless 'YYYY-MM': it becomes part of file names
    out_dir = Path(out_dir)
    data = load_flash_data(con, bill_cycle, api_configured)
    stem = f"daily_flash_{data.export_date.isoformat()}"
    csv_path = write_flash_csv(out_dir / f"{stem}.csv", data)
    html_path = write_html(out_dir / f"{stem}.html",
                           render_daily_flash_html(data, [*notes, *data.notes], csv_path.name, currency))
    return DailyFlashReport(bill_cycle, data.export_date, html_path, csv_path)


def render_daily_flash_html(data: FlashData, notes: Sequence[str], csv_name: str, currency: str = CURRENCY) -> str:
    template = template_environment(currency).get_template(DAILY_FLASH_TEMPLATE)
    return template.render(
        currency=currency,
        cycle=data.bill_cycle,
        flash=data,
        notes=list(notes),
        csv_name=csv_name,
        service_chart=_service_chart(data.services),
        limits={"movers": MOVER_LIMIT, "customers": TOP_CUSTOMER_LIMIT, "budgets": BUDGET_LIMIT,
                "chart_services": CHART_SERVICE_LIMIT},
    )


def _service_chart(services: list[dict[str, Any]]) -> charts.HorizontalBarChart | None:
    if not services:
        return None
    return charts.horizontal_bar_chart([
        (row["service_type_name"] or row["service_type_code"], row["official_amount"])
        for row in services[:CHART_SERVICE_LIMIT]
    ])


def write_flash_csv(path: Path, data: FlashData) -> Path:
    """The per-customer figures: money with every stored decimal, ratios to six, text neutralised.

    UTF-8 with a BOM (finance opens it in Excel, which needs it for Chinese names), CRLF lines.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for header, _, _ in CSV_COLUMNS])
    for row in data.customers:
        writer.writerow([_csv_value(row[name], kind) for _, name, kind in CSV_COLUMNS])
    with atomic_output_path(path) as temp_path:
        temp_path.write_bytes(UTF8_BOM + buffer.getvalue().encode("utf-8"))
    return path


def _csv_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "text":
        return neutralise_spreadsheet_text(str(value))
    if kind == "count":
        return str(int(value))
    decimal = value if isinstance(value, Decimal) else Decimal(str(value))
    places = MONEY_QUANTUM if kind == "money" else _SIX_PLACES
    return plain_decimal(decimal.quantize(places, rounding=ROUND_HALF_UP) + 0)
