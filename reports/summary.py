"""The month's headline figures and the data-quality alerts, shared by the HTML page and the XLSX
Summary sheet so both always say the same thing in the same words."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from reports.formatting import format_counted
from reports.month_close_data import MonthCloseData

StatementRole = Literal["line", "subtotal", "total", "memo"]


@dataclass(frozen=True)
class StatementLine:
    """One line of the headline statement.

    ``role`` tells how to show it: ``line`` adds into the next subtotal, ``subtotal`` and
    ``total`` are the sums, ``memo`` is information that does not add up with the rest (the coupon
    share of the amount due, the margin %).
    """

    label: str
    amount: Decimal | None
    role: StatementRole
    explanation: str
    is_ratio: bool = False


def statement_lines(data: MonthCloseData) -> list[StatementLine]:
    """From list price to what the partner owes HUAWEI CLOUD, then what it bills and keeps."""
    t = data.totals
    return [
        StatementLine("Consumption at list price", t.official_amount, "line",
                      "Expenditure lines at HUAWEI CLOUD's official price."),
        # Deductions as 0 - x, not -x: Decimal's -0 would print as "-0.00".
        StatementLine("HUAWEI CLOUD discount", 0 - t.discount_amount, "line",
                      "All HUAWEI CLOUD-side discounts on expenditure lines."),
        StatementLine("Truncated amount", 0 - t.truncated_amount, "line",
                      "Sub-cent amounts HUAWEI CLOUD rounds off."),
        StatementLine("Consumption amount due", t.amount_due, "subtotal",
                      "What HUAWEI CLOUD charges for the consumption."),
        StatementLine("Refunds", t.refund_amount, "line",
                      f"{format_counted(t.refund_line_count, 'refund line')} (negative)."),
        StatementLine("Adjustments", t.adjustment_amount, "line",
                      f"{format_counted(t.adjustment_line_count, 'adjustment line')}; "
                      "between HUAWEI CLOUD and the partner only."),
        StatementLine("Amount due to HUAWEI CLOUD", t.net_amount_due, "total",
                      "Consumption amount due + refunds + adjustments."),
        StatementLine("Paid by coupons", t.coupon_paid_amount, "memo",
                      "Part of the consumption amount due settled with cash coupons, "
                      "vouchers and stored-value cards."),
        StatementLine("Billed to customers", t.customer_charge_amount, "total",
                      "List price less each customer's agreed discount, "
                      "over expenditure and refund lines."),
        StatementLine("Margin", t.margin_amount, "total",
                      "Billed to customers − (consumption amount due + refunds)."),
        StatementLine("Margin %", t.margin_ratio, "memo",
                      "Margin as a share of what is billed to customers.", is_ratio=True),
    ]


def data_quality_alerts(data: MonthCloseData) -> list[str]:
    """Short sentences about problems in the month's data, most serious first; empty when clean.

    A missing bill file is not one of them: the caller knows why it is missing (month still open,
    delivery late) and says so in a note; the empty-month notice covers the rest.
    """
    alerts = []
    rejected = [row for row in data.data_quality if row["status"] == "rejected"]
    if rejected:
        alerts.append(f"{format_counted(len(rejected), 'source object')} rejected: "
                      "nothing was loaded from them.")
    # A rejected object is reported above; whatever its counts say, nothing was loaded.
    unbalanced = [row for row in data.data_quality
                  if row["status"] != "rejected" and not rows_balance(row)]
    if unbalanced:
        alerts.append(f"{format_counted(len(unbalanced), 'source object')} where rows read "
                      "differ from rows loaded + rows quarantined.")
    if data.quarantined_row_count:
        alerts.append(f"{format_counted(data.quarantined_row_count, 'row')} quarantined "
                      "(not in the figures below).")
    errors = sum(g["finding_count"] for g in data.findings_by_rule if g["severity"] == "error")
    if errors:
        alerts.append(f"{format_counted(errors, 'validation finding')} of severity error.")
    unmatched = data.totals.unmatched_agreement_line_count
    if unmatched:
        alerts.append(f"{format_counted(unmatched, 'bill line')} without a matching customer "
                      "agreement: check those customers' charges.")
    return alerts


def rows_balance(data_quality_row: dict) -> bool:
    """Rows read = rows loaded + rows quarantined (the loader's invariant); unknown counts pass."""
    read = data_quality_row["rows_read"]
    loaded = data_quality_row["rows_loaded"]
    quarantined = data_quality_row["rows_quarantined"]
    if read is None or loaded is None or quarantined is None:
        return True
    return read == loaded + quarantined
