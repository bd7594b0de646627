"""The reconciliation sheets of the month-close workbook.

- ``Reconciliation``: the status of each area (the same words as the page), then every finding of
  the cycle, most severe and largest first; the findings table has the frozen header and filter.
- ``Tie-out``: the partner bill's four components, then every customer (not matched first).
- ``Discount audit``: every discount finding, largest first.
- ``Incentives``: every line of the period, problems first.
- ``Budgets``: every customer's budget as of the latest run, highest utilisation first.
- ``Coupons``: every coupon, soonest to expire first, with the rules of the findings about it.

Every sheet exists even when its mart does not: it then says why under its header.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from reports.codes import incentive_policy_label
from reports.reconciliation import ReconciliationData
from reports.reconciliation_areas import (
    AREA_TITLES,
    BUDGET,
    BUDGET_TABLE,
    COMPONENT_LABELS,
    COUPON,
    COUPON_TABLE,
    CUSTOMER_TIEOUT_TABLE,
    DISCOUNT,
    FINDINGS_TABLE,
    INCENTIVE,
    INCENTIVE_TABLE,
    TIEOUT,
    budget_no_data,
    missing_table_reason,
)
from reports.reconciliation_names import iter_with_names
from reports.reconciliation_reader import AMOUNT_FIRST_ORDER, ReconciliationReader
from reports.reconciliation_status import AreaStatus
from reports.xlsx_tables import Column, Formats, field, worded, write_note, write_table, write_total_row

SHEET_RECONCILIATION = "Reconciliation"
SHEET_TIEOUT = "Tie-out"
SHEET_DISCOUNT_AUDIT = "Discount audit"
SHEET_INCENTIVES = "Incentives"
SHEET_BUDGETS = "Budgets"
SHEET_COUPONS = "Coupons"
RECONCILIATION_SHEETS = (SHEET_RECONCILIATION, SHEET_TIEOUT, SHEET_DISCOUNT_AUDIT,
                         SHEET_INCENTIVES, SHEET_BUDGETS, SHEET_COUPONS)


def reconciliation_summary_lines(data: ReconciliationData) -> list[str]:
    """One sentence per area, for the Summary sheet."""
    return [status.sentence(data.currency) for status in data.statuses]


def write_reconciliation_sheets(
    workbook: xlsxwriter.Workbook, formats: Formats, reader: ReconciliationReader,
    data: ReconciliationData,
) -> None:
    _write_reconciliation_sheet(workbook.add_worksheet(SHEET_RECONCILIATION), formats, reader, data)
    _write_tieout_sheet(workbook.add_worksheet(SHEET_TIEOUT), formats, reader, data)
    _write_discount_sheet(workbook.add_worksheet(SHEET_DISCOUNT_AUDIT), formats, reader, data)
    _write_incentives_sheet(workbook.add_worksheet(SHEET_INCENTIVES), formats, data)
    _write_budgets_sheet(workbook.add_worksheet(SHEET_BUDGETS), formats, reader, data)
    _write_coupons_sheet(workbook.add_worksheet(SHEET_COUPONS), formats, reader, data)


def _finding_columns(with_area: bool, data: ReconciliationData) -> list[Column]:
    columns = []
    if with_area:
        columns.append(Column("Area", lambda row: AREA_TITLES.get(row["check_area"], row["check_area"]),
                              "text", 15))
    columns += [
        field("severity", "Severity", "text", 13),
        field("rule_id", "Rule", "text", 34),
        field("bill_cycle", "Bill cycle", "text", 12),
        field("customer_id", "Customer ID", "text", 34),
        field("customer_name", "Customer name", "text", 28),
        field("reference", "Reference", "text", 26),
        Column("Service", lambda row: data.service_name(row["reference"]), "text", 24),
        field("expected", "Expected", "exact"),
        field("actual", "Actual", "exact"),
        field("difference_amount", f"Difference ({data.currency}, actual − expected)", "money", 17),
        field("message", "Message", "text", 70),
    ]
    return columns


def _write_unavailable(sheet: Worksheet, formats: Formats, columns: Sequence[Column], reason: str,
                       first_row: int = 0) -> None:
    """The table's header (frozen, filtered) and one line saying why there are no rows."""
    write_table(sheet, formats, columns, [], first_row=first_row)
    write_note(sheet, formats, first_row + 1, _as_sentence(reason))


def _as_sentence(reason: str) -> str:
    """A lower-case reason ("no data: …") as a sentence for a note line."""
    return reason[:1].upper() + reason[1:] + "."


def _write_reconciliation_sheet(sheet: Worksheet, formats: Formats, reader: ReconciliationReader,
                                data: ReconciliationData) -> None:
    # The status table on top is short; the frozen pane and the filter belong to the findings
    # under it, whose column widths the status table shares.
    status_columns = [
        Column("Area", lambda s: s.area.title, "text"),
        Column("Status", lambda s: s.label, "text"),
        Column("Findings", lambda s: s.count_text if s.judged else None, "text"),
        Column(f"Σ |difference| ({data.currency})", lambda s: s.difference_amount if s.judged else None, "money"),
        Column("Detail", _status_detail, "text"),
    ]
    after = write_table(sheet, formats, status_columns, data.statuses, frozen_and_filtered=False)
    first_row = after + 1
    columns = _finding_columns(with_area=True, data=data)
    if FINDINGS_TABLE not in data.present_tables:
        _write_unavailable(sheet, formats, columns, missing_table_reason(FINDINGS_TABLE), first_row)
        return
    next_row = write_table(sheet, formats, columns,
                           iter_with_names(reader.iter_findings(), data.customer_names),
                           first_row=first_row, notes_from=FINDINGS_TABLE)
    if next_row == first_row + 1:
        write_note(sheet, formats, next_row, f"No reconciliation finding for {data.bill_cycle}.")


def _status_detail(status: AreaStatus) -> str:
    if not status.judged:
        return str(status.reason)
    return "; ".join(status.facts)


def _write_tieout_sheet(sheet: Worksheet, formats: Formats, reader: ReconciliationReader,
                        data: ReconciliationData) -> None:
    columns = [
        field("level", "Level", "text", 13),
        field("key", "Component / customer ID", "text", 34),
        field("customer_name", "Customer name", "text", 30),
        field("file_amount", f"Bill file ({data.currency})", "money", 16),
        field("api_amount", f"API ({data.currency})", "money", 16),
        field("difference_amount", f"Difference ({data.currency}, API − file)", "money", 17),
        worded("status", "Status", 16),
    ]
    status = data.status(TIEOUT.key)
    if status.level == "unavailable":
        _write_unavailable(sheet, formats, columns, status.reason)
        return

    def rows() -> Iterable[dict[str, Any]]:
        for row in data.partner_tieout:
            yield {**row, "level": "Partner bill",
                   "key": COMPONENT_LABELS.get(row["component"], row["component"]),
                   "customer_name": None}
        for row in reader.iter_customer_tieout():
            yield {**row, "level": "Customer", "key": row["customer_id"]}

    next_row = write_table(sheet, formats, columns, rows(), notes_from=CUSTOMER_TIEOUT_TABLE)
    if next_row == 1:
        write_note(sheet, formats, 1, f"No data for {data.bill_cycle}.")


def _write_discount_sheet(sheet: Worksheet, formats: Formats, reader: ReconciliationReader,
                          data: ReconciliationData) -> None:
    columns = _finding_columns(with_area=False, data=data)
    status = data.status(DISCOUNT.key)
    if not status.judged:
        _write_unavailable(sheet, formats, columns, str(status.reason))
        return
    rows = reader.iter_findings(area=DISCOUNT.key, order=AMOUNT_FIRST_ORDER)
    next_row = write_table(sheet, formats, columns, iter_with_names(rows, data.customer_names),
                           notes_from=FINDINGS_TABLE)
    if next_row == 1:
        write_note(sheet, formats, 1, f"No discount finding for {data.bill_cycle}.")


def _write_incentives_sheet(sheet: Worksheet, formats: Formats, data: ReconciliationData) -> None:
    columns = [
        field("period", "Period", "text", 9),
        field("incentive_type", "Incentive type", "text", 18),
        field("service_type_code", "Service type code", "text", 28),
        Column("Service", lambda row: row["service_type_name"] or data.service_name(row["service_type_code"]),
               "text", 28),
        Column("Policy", lambda row: incentive_policy_label(row["incentive_policy"]), "text", 36),
        field("eligible_performance_amount", f"Eligible performance ({data.currency})", "money", 17),
        field("rate", "Rate", "rate", 9),
        field("expected_incentive_amount", f"Expected incentive ({data.currency})", "money", 16),
        field("statement_incentive_amount", f"Statement ({data.currency})", "money", 16),
        field("difference_amount", f"Difference ({data.currency}, statement − expected)", "money", 18),
        worded("status", "Status", 20),
        field("expected_reconciliation_date", "Expected reconciliation", "date", 13),
        field("expected_payment_date", "Expected payment", "date", 13),
        field("frozen_reason", "Frozen reason", "text", 40),
    ]
    status = data.status(INCENTIVE.key)
    if status.level == "unavailable":
        _write_unavailable(sheet, formats, columns, str(status.reason))
        return
    next_row = write_table(sheet, formats, columns, data.incentives, notes_from=INCENTIVE_TABLE)
    if next_row == 1:
        write_note(sheet, formats, 1, f"No data for {data.bill_cycle}.")
        return
    write_total_row(sheet, formats, next_row + 1, columns, {**data.incentive_totals, "rate": None},
                    label_column=0)


def _write_budgets_sheet(sheet: Worksheet, formats: Formats, reader: ReconciliationReader,
                         data: ReconciliationData) -> None:
    columns = [
        field("customer_id", "Customer ID", "text", 34),
        field("customer_name", "Customer name", "text", 30),
        field("bill_cycle", "Month", "text", 10),
        field("as_of_date", "As of", "date", 11),
        field("days_covered", "Days covered", "count"),
        field("budget_type", "Budget type", "text", 14),
        field("budget_amount", f"Budget ({data.currency})", "money"),
        field("mtd_spend_amount", f"Month to date, list price ({data.currency})", "money", 17),
        field("utilisation_ratio", "Utilisation", "ratio", 11),
        field("threshold_crossed_ratio", "Threshold crossed", "ratio", 11),
        field("forecast_amount", f"Forecast to month end ({data.currency})", "money", 17),
        field("forecast_utilisation_ratio", "Forecast utilisation", "ratio", 11),
        Column("Frozen", lambda row: None if row["is_frozen"] is None else ("yes" if row["is_frozen"] else "no"),
               "text", 8, source="is_frozen"),
        worded("status", "Status", 16),
        field("note", "Note", "text", 50),
    ]
    status = data.status(BUDGET.key)
    if status.level == "unavailable":
        _write_unavailable(sheet, formats, columns, str(status.reason))
        return
    next_row = write_table(sheet, formats, columns, reader.iter_budgets(), notes_from=BUDGET_TABLE)
    if next_row == 1:
        write_note(sheet, formats, 1, _as_sentence(budget_no_data(data.bill_cycle)))


def _write_coupons_sheet(sheet: Worksheet, formats: Formats, reader: ReconciliationReader,
                         data: ReconciliationData) -> None:
    columns = [
        field("coupon_id", "Coupon ID", "text", 26),
        field("customer_id", "Customer ID", "text", 34),
        field("customer_name", "Customer name", "text", 28),
        worded("coupon_type", "Type", 12),
        worded("status", "Status", 12),
        field("face_value", f"Face value ({data.currency})", "money"),
        field("balance", f"Balance ({data.currency})", "money"),
        field("used_amount", f"Used ({data.currency})", "money"),
        field("used_this_month_amount", f"Used this month ({data.currency})", "money", 16),
        field("valid_time", "Valid from (GMT+8)", "datetime_gmt8", 19),
        field("expire_time", "Expires (GMT+8)", "datetime_gmt8", 19),
        field("days_to_expiry", "Days to expiry", "integer", 10),
        field("finding_rules", "Findings", "text", 40),
    ]
    status = data.status(COUPON.key)
    if status.level == "unavailable":
        _write_unavailable(sheet, formats, columns, str(status.reason))
        return
    rules = {row["coupon_id"]: row["finding_rules"] for row in reader.coupons_with_findings(limit=None)}
    rows = ({**row, "finding_rules": rules.get(row["coupon_id"])}
            for row in iter_with_names(reader.iter_coupons(), data.customer_names))
    next_row = write_table(sheet, formats, columns, rows, notes_from=COUPON_TABLE)
    if next_row == 1:
        write_note(sheet, formats, 1, "No coupons.")
