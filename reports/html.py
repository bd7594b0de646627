"""The month-close HTML page: one self-contained file (inline CSS and SVG, no scripts, no external
resources) that a finance reader opens in any browser or attaches to an e-mail.

Everything taken from the data is escaped by jinja2 autoescape. It is switched on explicitly:
jinja2's ``select_autoescape`` decides by file extension and would not recognise ``.html.j2``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from reports import charts, csv_export
from reports.codes import INCENTIVE_POLICIES, incentive_policy_name
from reports.files import atomic_output_path
from reports.formatting import (
    CHANGE_BASE_MINIMUM,
    CURRENCY,
    break_points,
    format_amount,
    format_change_percent,
    format_count,
    format_counted,
    format_exact,
    format_money,
    format_percent,
    format_utc_minute,
    format_when,
    is_negative,
    margin_ratio,
    meter_percent,
    money_sum,
    pill_class,
    status_text,
)
from reports.month_close_data import (
    EXPENDITURE_COUNT_COLUMNS,
    EXPENDITURE_MONEY_COLUMNS,
    FINDING_LIMIT,
    QUARANTINE_REASON_LIMIT,
    REFUND_ADJUSTMENT_ROW_LIMIT,
    REFUND_LINE_LIMIT,
    TOP_CUSTOMER_LIMIT,
    MonthCloseData,
)
from reports.reconciliation import ReconciliationData
from reports.reconciliation_areas import (
    AREA_TITLES,
    COMPONENT_LABELS,
    FINDINGS_TABLE,
    NO_MARTS_REASON,
    missing_table_reason,
)
from reports.reconciliation_facts import coupons_as_read_note
from reports.reconciliation_reader import EXPIRY_WINDOW_DAYS
from reports.summary import data_quality_alerts, rows_balance, statement_lines
from reports.verdict import month_close_verdict

TEMPLATE_DIR = Path(__file__).parent / "templates"
MONTH_CLOSE_TEMPLATE = "month_close.html.j2"

# The chart shows this many services; the table under it lists them all.
CHART_SERVICE_LIMIT = 12


def template_environment(currency: str = CURRENCY) -> jinja2.Environment:
    """Jinja2 environment for report templates: autoescaped, strict about undefined names; the `amount`
    filter labels amounts with `currency`."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        money=format_money,
        amount=functools.partial(format_amount, currency=currency),
        count=format_count,
        percent=format_percent,
        negative=is_negative,
        exact=format_exact,
        utc_minute=format_utc_minute,
        when=format_when,
        meter=meter_percent,
        pill_class=pill_class,
        status_text=status_text,
        break_points=break_points,
    )
    environment.globals["counted"] = format_counted
    environment.globals["margin_ratio"] = margin_ratio
    environment.globals["change_percent"] = format_change_percent
    environment.globals["policy_name"] = incentive_policy_name
    environment.globals["incentive_policies"] = INCENTIVE_POLICIES
    environment.globals["change_base_minimum"] = format_money(CHANGE_BASE_MINIMUM)
    return environment


def render_month_close_html(
    data: MonthCloseData, reconciliation: ReconciliationData, notes: Sequence[str],
    companion_files: Sequence[str], customer_documents: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The page as text. ``companion_files`` are the names of the other files of the close;
    ``customer_documents`` one row per billed customer with the relative links to its statement and lines."""
    template = template_environment(data.currency).get_template(MONTH_CLOSE_TEMPLATE)
    return template.render(
        currency=data.currency,
        cycle=data.bill_cycle,
        data=data,
        verdict=month_close_verdict(data, reconciliation),
        totals=data.totals,
        notes=list(notes),
        alerts=data_quality_alerts(data),
        statement=statement_lines(data),
        top_customers=data.customers[:TOP_CUSTOMER_LIMIT],
        other_customers=_sum_group(data.customers[TOP_CUSTOMER_LIMIT:]),
        service_chart=_service_chart(data.services),
        quarantine_groups=data.quarantine_by_reason[:QUARANTINE_REASON_LIMIT],
        limits={
            "customers": TOP_CUSTOMER_LIMIT,
            "chart_services": CHART_SERVICE_LIMIT,
            "refund_lines": REFUND_LINE_LIMIT,
            "refund_adjustment_rows": REFUND_ADJUSTMENT_ROW_LIMIT,
            "findings": FINDING_LIMIT,
            "quarantine_groups": QUARANTINE_REASON_LIMIT,
        },
        rows_balance=rows_balance,
        margin_ratio=margin_ratio,
        companion_files=list(companion_files),
        all_lines_csv_max_rows=csv_export.ALL_LINES_CSV_MAX_ROWS,
        customer_documents=list(customer_documents),
        recon=reconciliation,
        recon_tables=sorted(reconciliation.present_tables),
        findings_reason=(None if FINDINGS_TABLE in reconciliation.present_tables
                         else missing_table_reason(FINDINGS_TABLE)),
        area_titles=AREA_TITLES,
        component_labels=COMPONENT_LABELS,
        recon_limits={"expiry_days": EXPIRY_WINDOW_DAYS},
        no_marts_reason=NO_MARTS_REASON,
        coupons_as_read_note=coupons_as_read_note,
    )


def write_month_close_html(
    path: Path, data: MonthCloseData, reconciliation: ReconciliationData, notes: Sequence[str],
    companion_files: Sequence[str], customer_documents: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Render the page and write it to ``path`` (UTF-8, atomically)."""
    html = render_month_close_html(data, reconciliation, notes, companion_files, customer_documents)
    return write_html(path, html)


def write_html(path: Path, html: str) -> Path:
    """Write a rendered page to ``path`` (UTF-8, atomically)."""
    with atomic_output_path(path) as temp_path:
        # newline="" : write "\n" as is on every platform, so the bytes do not depend on the OS.
        with temp_path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(html)
    return path


def _sum_group(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Column sums of per-customer rows, for the "other customers" line under the top list."""
    if not rows:
        return None
    group: dict[str, Any] = {"row_count": len(rows)}
    for column in EXPENDITURE_MONEY_COLUMNS:
        group[column] = money_sum(row[column] for row in rows)
    for column in EXPENDITURE_COUNT_COLUMNS:
        group[column] = sum(row[column] for row in rows)
    return group


def _service_chart(services: Sequence[dict[str, Any]]) -> charts.HorizontalBarChart | None:
    """Bar chart of the consumption amount due of the largest services, largest first.

    The remaining services are not lumped into an "other" bar: with a long tail that bar dwarfs
    the rest and flattens the chart. The table under the chart lists every service.
    """
    if not services:
        return None
    items = [
        (row["service_type_name"] or row["service_type_code"], row["amount_due"])
        for row in services[:CHART_SERVICE_LIMIT]
    ]
    return charts.horizontal_bar_chart(items)
