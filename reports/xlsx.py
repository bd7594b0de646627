"""The month-close workbook, for finance to work in.

Every sheet holds one table: a bold header row that stays frozen, an autofilter over the table, and
column formats by kind. Money is written as numbers with format ``#,##0.00`` (the float keeps the
stored 8-decimal value to double precision; only the display is rounded). Ids and every other text
go through ``write_string`` after ``neutralise_spreadsheet_text``, never through ``write``, which
would turn a text starting with ``=`` into a live formula.

The workbook is built in xlsxwriter's constant-memory mode (rows go straight to disk), so a month
with a million bill lines does not need a million rows in memory. Its creation date is fixed from
the bill cycle, and xlsxwriter fixes the zip entry times, so the same data gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

import duckdb
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from reports import exports
from reports.codes import billing_mode_label
from reports.data import stream_rows
from reports.files import atomic_output_path
from reports.formatting import margin_ratio
from reports.month_close_data import EXPENDITURE_COUNT_COLUMNS, EXPENDITURE_MONEY_COLUMNS, MonthCloseData
from reports.reconciliation import ReconciliationData, load_reconciliation_data
from reports.reconciliation_reader import ReconciliationReader
from reports.summary import data_quality_alerts, rows_balance, statement_lines
from reports.verdict import Verdict, month_close_verdict
from reports.xlsx_reconciliation import reconciliation_summary_lines, write_reconciliation_sheets
from reports.xlsx_tables import (
    CellKind,
    Column,
    Formats,
    field,
    set_print_layout,
    spreadsheet_text,
    worded,
    write_cell,
    write_note,
    write_table,
    write_total_row,
)
from schemas.bill_cycle import BillCycle

SHEET_SUMMARY = "Summary"
SHEET_CUSTOMERS = "Customers"
SHEET_SERVICES = "Services"
SHEET_CUSTOMER_BILLS = "Customer bills"
SHEET_DATA_QUALITY = "Data quality"
SHEET_FINDINGS = "Findings"
SHEET_QUARANTINE = "Quarantine"
SHEET_RESTATEMENTS = "Restatements"

# The audit tables are exported with all their columns (a column added later shows up without a
# code change, under a header made from its name); these are the headers people read.
_AUDIT_COLUMNS: dict[str, tuple[str, CellKind, float | None]] = {
    "load_id": ("Load ID", "text", 26),
    "source": ("Source", "text", 14),
    "object_key": ("Object key", "text", 44),
    "member": ("Member", "text", 34),
    "bill_cycle": ("Bill cycle", "text", 10),
    "line_number": ("Line", "integer", 8),
    "record_number": ("Record", "integer", 8),
    "rule_id": ("Rule", "text", 30),
    "severity": ("Severity", "text", 10),
    "customer_id": ("Customer ID", "text", 34),
    "reference": ("Reference", "text", 26),
    "expected": ("Expected", "exact", None),
    "actual": ("Actual", "exact", None),
    "difference_amount": ("Difference (actual − expected)", "exact", 16),
    "message": ("Message", "text", 60),
    "reason": ("Reason", "text", 50),
    "what_to_do": ("What to do", "text", 50),
    "raw_record": ("Row as delivered", "text", 80),
    "previous_etag": ("Previous ETag", "text", 24),
    "new_etag": ("New ETag", "text", 24),
    "restated_at": ("Re-delivered at (UTC)", "datetime_utc", 19),
    "lines_added": ("Lines added", "count", None),
    "lines_removed": ("Lines removed", "count", None),
    "lines_changed": ("Lines changed", "count", None),
    "previous_amount_due": ("Amount due before ({currency})", "money", 16),
    "new_amount_due": ("Amount due now ({currency})", "money", 16),
    "amount_due_delta": ("Change ({currency})", "money", 16),
}


def _audit_column(index: int, name: str, currency: str) -> Column:
    header, kind, width = _AUDIT_COLUMNS.get(name, (name.replace("_", " ").capitalize(), "auto", None))
    return Column(header.replace("{currency}", currency), itemgetter(index), kind, width, source=name)


def write_month_close_workbook(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    data: MonthCloseData,
    notes: Sequence[str],
    reconciliation: ReconciliationData | None = None,
    bill_lines: exports.TableExport = exports.CUSTOMER_BILL_LINE,
) -> Path:
    """Write the workbook for ``data.bill_cycle`` to ``path`` (atomically).

    ``reconciliation`` is what ``load_reconciliation_data`` read for the cycle (read here when
    not given); its sheets follow the existing ones. ``bill_lines`` is where the Customer bills
    sheet reads the lines: the mart, or the pack's copy of them (``reports.pack_lines``).
    """
    if reconciliation is None:
        reconciliation = load_reconciliation_data(con, data.bill_cycle, currency=data.currency)
    with atomic_output_path(path) as temp_path:
        workbook = xlsxwriter.Workbook(str(temp_path), {
            "constant_memory": True,
            # Defence in depth: even a stray write() must not create formulas or links from text.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        })
        workbook.set_properties({
            "title": f"Month close {data.bill_cycle}",
            "subject": "HUAWEI CLOUD reseller billing reconciliation",
            "author": "billrecon",
            "comments": "\n".join(notes),
            "created": workbook_creation_date(data.bill_cycle),
        })
        formats = Formats(workbook)
        if not customer_bills_sheet_shows_lines(data):
            lines = data.totals.expenditure_line_count + data.totals.refund_line_count
            notes = [*notes, f"The month has {lines:,} billed lines: the sheet Customer bills shows each "
                             "customer's bill per service; every line is in customer_bills/<customer id>.csv "
                             "and customer_bill_line.parquet."]
        _write_summary_sheet(workbook.add_worksheet(SHEET_SUMMARY), formats, data, notes,
                             month_close_verdict(data, reconciliation),
                             reconciliation_summary_lines(reconciliation))
        _write_customers_sheet(workbook.add_worksheet(SHEET_CUSTOMERS), formats, data)
        _write_services_sheet(workbook.add_worksheet(SHEET_SERVICES), formats, data)
        _write_customer_bills_sheet(workbook.add_worksheet(SHEET_CUSTOMER_BILLS), formats, con, data, bill_lines)
        _write_data_quality_sheet(workbook.add_worksheet(SHEET_DATA_QUALITY), formats, data)
        for sheet_name, export in ((SHEET_FINDINGS, exports.FINDINGS),
                                   (SHEET_QUARANTINE, exports.QUARANTINE),
                                   (SHEET_RESTATEMENTS, exports.RESTATEMENT)):
            names, rows = stream_rows(con, export, data.bill_cycle)
            columns = [_audit_column(index, name, data.currency) for index, name in enumerate(names)]
            write_table(workbook.add_worksheet(sheet_name), formats, columns, rows, notes_from=export.table)
        reader = ReconciliationReader(con, data.bill_cycle, reconciliation.present_tables)
        write_reconciliation_sheets(workbook, formats, reader, reconciliation)
        for sheet in workbook.worksheets():
            set_print_layout(sheet, data.bill_cycle, one_page=sheet.get_name() == SHEET_SUMMARY)
        workbook.close()
    return path


def workbook_creation_date(bill_cycle: str) -> datetime:
    """The first moment after the bill cycle (the 1st of the next month, 00:00).

    Used as the workbook's creation date instead of "now" so that the file is reproducible and
    still carries a date that means something: the close it belongs to.
    """
    return datetime.combine(BillCycle.parse(bill_cycle).next().first_day, time())


# ---------------------------------------------------------------------------------------------
# Sheets


def _write_summary_sheet(
    sheet: Worksheet, formats: Formats, data: MonthCloseData, notes: Sequence[str],
    verdict: Verdict, reconciliation_lines: Sequence[str] = (),
) -> None:
    """The verdict first, then the notes and alerts, the headline statement as a table (only when
    the month has bill lines: an empty month shows no zeros as if they were figures), the
    cycle's facts and the reconciliation status."""
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 18)
    sheet.set_column(2, 2, 80)
    next_row = _write_summary_text(sheet, 0, verdict.headline + ".", formats.title)
    for line in verdict.details:
        next_row = _write_summary_text(sheet, next_row, line, formats.note)
    if data.held_deliveries:
        # right under the verdict, inside the frozen pane: the figures below do not include them
        next_row += 1
        sheet.write_string(next_row, 0, "Held deliveries: this month's figures do not include them", formats.section)
        for held in data.held_deliveries:
            next_row += 1
            # not wrapped: the line runs on over the empty cells to its right
            sheet.write_string(next_row, 0, spreadsheet_text(held["message"]))
        next_row += 1

    for heading, texts in (("Notes", notes), ("Data quality alerts", data_quality_alerts(data))):
        if not texts:
            continue
        next_row += 1
        sheet.write_string(next_row, 0, heading, formats.section)
        next_row += 1
        for text in texts:
            next_row = _write_summary_text(sheet, next_row, text, formats.note)

    next_row += 1
    if data.has_lines:
        lines = statement_lines(data)
        columns = [
            Column("Item", lambda line: line.label, "text", 34),
            Column(f"Amount ({data.currency})", lambda line: line.amount, "money", 18),
            Column("Explanation", lambda line: line.explanation, "text", 80),
        ]
        # The margin % line holds a ratio, not money: give that one cell the percent format.
        kinds = [("ratio" if line.is_ratio else None) for line in lines]
        next_row = write_table(sheet, formats, columns, lines, kind_overrides={1: kinds},
                               first_row=next_row, frozen_and_filtered=False)
    else:
        next_row = _write_summary_text(
            sheet, next_row, f"No bill lines for {data.bill_cycle}: there are no totals to show. "
            "They appear here once the month's bill file is loaded.", formats.section)

    next_row += 1
    facts: list[tuple[str, Any, CellKind]] = [
        *([("Partner account", data.account_title, "text")] if data.account_title else []),
        ("Bill cycle", data.bill_cycle, "text"),
        ("Currency", data.currency, "text"),
    ]
    if data.has_lines:
        facts += [("Customers", data.totals.customer_count, "count"),
                  ("Bill lines", data.totals.line_count, "count")]
    facts += [
        ("Quarantined rows", data.quarantined_row_count, "count"),
        ("Validation findings", data.finding_count, "count"),
    ]
    if data.data_landed_until is not None:
        facts.append(("Source data landed up to (UTC)", data.data_landed_until, "datetime_utc"))
    for label, value, kind in facts:
        write_cell(sheet, formats, next_row, 0, label, "text")
        write_cell(sheet, formats, next_row, 1, value, kind)
        next_row += 1

    if reconciliation_lines:
        next_row += 1
        sheet.write_string(next_row, 0, "Reconciliation (sheet Reconciliation has every finding)",
                           formats.section)
        next_row += 1
        for text in reconciliation_lines:
            next_row = _write_summary_text(sheet, next_row, text, formats.note)


# Characters of the Summary's text that fit on one line across its three columns (132 wide).
_SUMMARY_LINE_CHARS = 120


def _write_summary_text(sheet: Worksheet, row: int, text: str, cell_format: Format) -> int:
    """A sentence across the Summary's three columns, wrapped, in a row tall enough to show it
    all (neither Excel nor LibreOffice sizes a merged row by itself). Returns the next row."""
    lines = max(1, -(-len(text) // _SUMMARY_LINE_CHARS))
    points = 20 if cell_format.font_size > 12 else 15
    sheet.set_row(row, points * lines)
    sheet.merge_range(row, 0, row, 2, "", cell_format)
    sheet.write_string(row, 0, spreadsheet_text(text), cell_format)
    return row + 1


_EXPENDITURE_COLUMNS: list[Column] = [
    field("line_count", "Lines", "count"),
    field("expenditure_line_count", "Expenditure lines", "count", 12),
    field("refund_line_count", "Refund lines", "count"),
    field("adjustment_line_count", "Adjustment lines", "count", 12),
    field("official_amount", "List price", "money"),
    field("discount_amount", "HUAWEI discount", "money"),
    field("truncated_amount", "Truncated", "money"),
    field("amount_due", "Amount due", "money"),
    field("cash_amount", "Cash", "money"),
    field("credit_amount", "Monthly settlement", "money"),
    field("cash_coupon_amount", "Cash coupons", "money"),
    field("voucher_amount", "Vouchers", "money"),
    field("stored_card_amount", "Stored-value cards", "money"),
    field("coupon_paid_amount", "Paid by coupons", "money"),
    field("debt_amount", "Arrears", "money"),
    field("refund_amount", "Refunds", "money"),
    field("adjustment_amount", "Adjustments", "money"),
    field("customer_charge_amount", "Billed to customers", "money", 17),
    field("margin_amount", "Margin", "money"),
    Column("Margin %", lambda row: margin_ratio(row["margin_amount"],
                                                row["customer_charge_amount"]), "ratio"),
    field("unmatched_agreement_line_count", "Lines without agreement", "count", 12),
]


def _write_customers_sheet(sheet: Worksheet, formats: Formats, data: MonthCloseData) -> None:
    columns = [
        field("customer_id", "Customer ID", "text", 34),
        field("customer_name", "Customer name", "text", 30),
        field("partner_id", "Partner ID", "text", 34),
        field("partner_name", "Partner name", "text", 24),
        field("service_count", "Services", "count"),
        *_EXPENDITURE_COLUMNS,
    ]
    next_row = write_table(sheet, formats, columns, data.customers, notes_from=exports.EXPENDITURE_TABLE)
    _write_totals_if_billed(sheet, formats, next_row + 1, columns, data)


def _write_services_sheet(sheet: Worksheet, formats: Formats, data: MonthCloseData) -> None:
    columns = [
        field("service_type_code", "Service type code", "text", 30),
        field("service_type_name", "Service", "text", 30),
        field("customer_count", "Customers", "count"),
        *_EXPENDITURE_COLUMNS,
    ]
    next_row = write_table(sheet, formats, columns, data.services, notes_from=exports.EXPENDITURE_TABLE)
    _write_totals_if_billed(sheet, formats, next_row + 1, columns, data)


def _write_totals_if_billed(sheet: Worksheet, formats: Formats, row: int, columns: Sequence[Column],
                            data: MonthCloseData) -> None:
    """The total line under a table; none for a month without lines (zeros are not figures)."""
    if data.has_lines:
        write_total_row(sheet, formats, row, columns, _totals_record(data), label_column=0)
    else:
        write_note(sheet, formats, 1, f"No bill lines for {data.bill_cycle}.")


def _totals_record(data: MonthCloseData) -> dict[str, Any]:
    totals = data.totals
    record = {name: getattr(totals, name) for name in EXPENDITURE_MONEY_COLUMNS}
    record.update({name: getattr(totals, name) for name in EXPENDITURE_COUNT_COLUMNS})
    record.update(customer_count=totals.customer_count, service_count=None)
    return record


# Above this many billed lines the sheet shows each customer's bill per service instead of every
# line: xlsxwriter needs about half a second per thousand lines, and Excel stops at 1,048,576 rows.
# Every line is always in customer_bills/<customer>.csv and customer_bill_line.parquet.
LINE_SHEET_LIMIT = 50_000


def customer_bills_sheet_shows_lines(data: MonthCloseData) -> bool:
    totals = data.totals
    return totals.expenditure_line_count + totals.refund_line_count <= LINE_SHEET_LIMIT


def _write_customer_bills_sheet(
    sheet: Worksheet, formats: Formats, con: duckdb.DuckDBPyConnection, data: MonthCloseData,
    bill_lines: exports.TableExport,
) -> None:
    """Every line billed to a customer with the partner's cost next to it; for a large month, each
    customer's bill per service."""
    if not customer_bills_sheet_shows_lines(data):
        names, rows = stream_rows(con, exports.CUSTOMER_MONTHLY_EXPENDITURE, data.bill_cycle)
        columns = [
            field("customer_id", "Customer ID", "text", 34),
            field("customer_name", "Customer name", "text", 28),
            field("service_type_code", "Service type code", "text", 26),
            field("service_type_name", "Service", "text", 24),
            field("expenditure_line_count", "Expenditure lines", "count", 11),
            field("refund_line_count", "Refund lines", "count", 9),
            field("official_amount", "List price", "money"),
            field("customer_charge_amount", "Billed to customer", "money", 17),
            field("amount_due", "Amount due to HUAWEI CLOUD", "money", 17),
            field("refund_amount", "Refunds from HUAWEI CLOUD", "money", 17),
            field("margin_amount", "Margin", "money"),
        ]
        write_table(sheet, formats, columns, (dict(zip(names, row, strict=True)) for row in rows),
                    notes_from=exports.CUSTOMER_MONTHLY_EXPENDITURE.table)
        return
    names, rows = stream_rows(con, bill_lines, data.bill_cycle)
    columns = [
        field("customer_id", "Customer ID", "text", 34),
        field("customer_name", "Customer name", "text", 28),
        field("partner_id", "Partner ID", "text", 20),
        field("trade_time_local", "Trade time (GMT+8)", "datetime_gmt8", 19),
        field("bill_type", "Bill type", "text", 12),
        Column("Billing mode", lambda row: billing_mode_label(row["billing_mode"]), "text", 20),
        field("trade_id", "Order / transaction no.", "text", 26),
        field("original_order_id", "Original order no.", "text", 22),
        field("service_type_code", "Service type code", "text", 26),
        field("service_type_name", "Service", "text", 24),
        field("resource_type_name", "Resource type", "text", 20),
        field("product_name", "Product", "text", 28),
        field("region_code", "Region", "text", 16),
        field("resource_id", "Resource ID", "text", 30),
        field("resource_name", "Resource name", "text", 24),
        field("usage_amount", "Usage", "exact"),
        field("usage_unit", "Usage unit", "text", 10),
        field("official_amount", "List price", "money"),
        field("discount_rate", "Customer discount rate", "rate", 11),
        field("customer_charge_amount", "Billed to customer", "money", 17),
        field("amount_due", "Amount due to HUAWEI CLOUD", "money", 17),
        Column("Margin", _line_margin, "money"),
        field("agreement_rule", "Agreement applied", "text", 30),
    ]
    write_table(sheet, formats, columns, (dict(zip(names, row, strict=True)) for row in rows),
                notes_from=exports.CUSTOMER_BILL_LINE.table)


def _line_margin(row: dict[str, Any]) -> Decimal | None:
    charge, due = row["customer_charge_amount"], row["amount_due"]
    if charge is None or due is None:
        return None
    return charge - due


def _write_data_quality_sheet(
    sheet: Worksheet, formats: Formats, data: MonthCloseData
) -> None:
    columns = [
        field("source", "Source", "text", 14),
        field("object_key", "Object key", "text", 44),
        field("member", "Member", "text", 34),
        field("bill_cycle", "Bill cycle", "text", 10),
        field("rows_read", "Rows read", "count"),
        field("rows_loaded", "Rows loaded", "count"),
        field("rows_quarantined", "Rows quarantined", "count", 12),
        field("findings_count", "Findings", "count"),
        worded("status", "Status", 16),
        Column("Rows add up", lambda row: "yes" if rows_balance(row) else "NO", "text", 10),
        field("first_error", "First error", "text", 60),
        field("landed_at", "Landed at (UTC)", "datetime_utc", 19),
    ]
    write_table(sheet, formats, columns, data.data_quality, notes_from=exports.DATA_QUALITY_TABLE)
