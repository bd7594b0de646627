"""The aggregated view of one cycle that the month-close page and the XLSX summary sheets show:
the headline totals, per customer and per service, capped lists of refund lines and findings, data
quality, restatements and held re-deliveries (``load_month_close_data``).

Every query takes the bill cycle as a bound parameter, and every ORDER BY ends in a complete
tie-breaker, so the same warehouse content always gives byte-identical pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb

from reports.data import fetch_records
from reports.exports import (
    AUDIT_PARAMETERS,
    AUDIT_WHERE,
    BILL_LINE_TABLE,
    DATA_QUALITY_PARAMETERS,
    DATA_QUALITY_TABLE,
    DATA_QUALITY_WHERE,
    EXPENDITURE_TABLE,
    FINDINGS_TABLE,
    QUARANTINE_WITH_ACTIONS,
    RESTATEMENT_TABLE,
)
from reports.formatting import CURRENCY, ReportAccount, margin_ratio

# Sums of customer_monthly_expenditure shown per cycle, per customer and per service.
EXPENDITURE_MONEY_COLUMNS = (
    "official_amount", "discount_amount", "truncated_amount", "amount_due", "cash_amount", "credit_amount",
    "cash_coupon_amount", "voucher_amount", "stored_card_amount", "coupon_paid_amount", "debt_amount",
    "refund_amount", "adjustment_amount", "customer_charge_amount", "margin_amount",
)
EXPENDITURE_COUNT_COLUMNS = (
    "line_count", "expenditure_line_count", "refund_line_count", "adjustment_line_count",
    "unmatched_agreement_line_count",
)

# How many rows the HTML page lists before pointing to the full CSV/XLSX.
TOP_CUSTOMER_LIMIT = 15
REFUND_LINE_LIMIT = 50
FINDING_LIMIT = 100
REFUND_ADJUSTMENT_ROW_LIMIT = 50
QUARANTINE_REASON_LIMIT = 50

@dataclass(frozen=True)
class HeadlineTotals:
    """The cycle's totals over ``marts.customer_monthly_expenditure``."""

    customer_count: int
    line_count: int
    expenditure_line_count: int
    refund_line_count: int
    adjustment_line_count: int
    unmatched_agreement_line_count: int
    official_amount: Decimal
    discount_amount: Decimal
    truncated_amount: Decimal
    amount_due: Decimal
    cash_amount: Decimal
    credit_amount: Decimal
    cash_coupon_amount: Decimal
    voucher_amount: Decimal
    stored_card_amount: Decimal
    coupon_paid_amount: Decimal
    debt_amount: Decimal
    refund_amount: Decimal
    adjustment_amount: Decimal
    customer_charge_amount: Decimal
    margin_amount: Decimal

    @property
    def net_amount_due(self) -> Decimal:
        """What the partner owes HUAWEI CLOUD for the cycle: consumption + refunds + adjustments
        (the API's ``initial_amount_due``)."""
        return self.amount_due + self.refund_amount + self.adjustment_amount

    @property
    def margin_ratio(self) -> Decimal | None:
        return margin_ratio(self.margin_amount, self.customer_charge_amount)


@dataclass(frozen=True)
class MonthCloseData:
    """Everything the HTML page and the XLSX summary sheets show for one cycle."""

    bill_cycle: str
    totals: HeadlineTotals
    customers: list[dict[str, Any]]
    services: list[dict[str, Any]]
    refund_lines: list[dict[str, Any]]
    adjustments: list[dict[str, Any]]
    refunds_and_adjustments_by_customer: list[dict[str, Any]]
    data_quality: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    findings_by_rule: list[dict[str, Any]]
    quarantine_by_reason: list[dict[str, Any]]
    data_landed_until: datetime | None
    restatements: list[dict[str, Any]]
    # re-deliveries held from this month (its own files', and the agreements every month reads)
    held_deliveries: list[dict[str, Any]]
    account: ReportAccount | None = None   # set by the caller when partners.toml names the account

    @property
    def currency(self) -> str:
        return self.account.currency if self.account else CURRENCY

    @property
    def account_title(self) -> str | None:
        """How the header names the account: "ACME Cloud (acme-intl)"."""
        return f"{self.account.name} ({self.account.id})" if self.account else None

    @property
    def has_lines(self) -> bool:
        return self.totals.line_count > 0

    @property
    def finding_count(self) -> int:
        return sum(group["finding_count"] for group in self.findings_by_rule)

    @property
    def quarantined_row_count(self) -> int:
        return sum(group["row_count"] for group in self.quarantine_by_reason)


def _sum_columns() -> str:
    """``sum(x) AS x`` for every money and count column; zero (not NULL) over no rows."""
    money = [f"coalesce(sum({c}), 0) AS {c}" for c in EXPENDITURE_MONEY_COLUMNS]
    counts = [f"coalesce(sum({c}), 0)::BIGINT AS {c}" for c in EXPENDITURE_COUNT_COLUMNS]
    return ",\n       ".join(counts + money)


_TOTALS_SQL = f"""
SELECT count(DISTINCT customer_id) AS customer_count,
       {_sum_columns()}
FROM {EXPENDITURE_TABLE}
WHERE bill_cycle = ?
"""

# A customer has one name and partner per cycle; min() just picks it deterministically should a
# rename inside the month leave two spellings.
_CUSTOMERS_SQL = f"""
SELECT customer_id,
       min(customer_name) AS customer_name,
       min(partner_id) AS partner_id,
       min(partner_name) AS partner_name,
       count(DISTINCT service_type_code) AS service_count,
       {_sum_columns()}
FROM {EXPENDITURE_TABLE}
WHERE bill_cycle = ?
GROUP BY customer_id
ORDER BY customer_charge_amount DESC, customer_id
"""

_SERVICES_SQL = f"""
SELECT service_type_code,
       min(service_type_name) AS service_type_name,
       count(DISTINCT customer_id) AS customer_count,
       {_sum_columns()}
FROM {EXPENDITURE_TABLE}
WHERE bill_cycle = ?
GROUP BY service_type_code
ORDER BY amount_due DESC, service_type_code
"""

# Largest refunds first: when the list is cut, the ones that matter most remain.
_REFUND_LINES_SQL = f"""
SELECT trade_time_local, customer_id, customer_name, trade_id, original_order_id,
       service_type_code, service_type_name, product_name, resource_name, resource_id,
       official_amount, amount_due, customer_charge_amount
FROM {{lines}}
WHERE bill_cycle = ? AND bill_type = 'Refund'
ORDER BY amount_due ASC, customer_id, trade_time_local, trade_id, resource_id NULLS FIRST,
         customer_charge_amount, official_amount, service_type_code, product_name NULLS FIRST
LIMIT {REFUND_LINE_LIMIT}
"""

# Adjustment lines are not billed to customers, so the marts keep them only summed per customer
# and service; that is the finest grain the report can show.
_ADJUSTMENTS_SQL = f"""
SELECT customer_id, customer_name, service_type_code, service_type_name,
       adjustment_line_count, adjustment_amount
FROM {EXPENDITURE_TABLE}
WHERE bill_cycle = ? AND (adjustment_line_count > 0 OR adjustment_amount <> 0)
ORDER BY abs(adjustment_amount) DESC, customer_id, service_type_code
"""

_REFUNDS_AND_ADJUSTMENTS_BY_CUSTOMER_SQL = f"""
SELECT customer_id,
       min(customer_name) AS customer_name,
       sum(refund_line_count)::BIGINT AS refund_line_count,
       sum(refund_amount) AS refund_amount,
       sum(adjustment_line_count)::BIGINT AS adjustment_line_count,
       sum(adjustment_amount) AS adjustment_amount,
       sum(refund_amount) + sum(adjustment_amount) AS total_amount
FROM {EXPENDITURE_TABLE}
WHERE bill_cycle = ?
GROUP BY customer_id
HAVING sum(refund_line_count) > 0 OR sum(adjustment_line_count) > 0
    OR sum(refund_amount) <> 0 OR sum(adjustment_amount) <> 0
ORDER BY abs(sum(refund_amount)) + abs(sum(adjustment_amount)) DESC, customer_id
"""

_DATA_QUALITY_SQL = f"""
SELECT source, object_key, member, bill_cycle, rows_read, rows_loaded, rows_quarantined,
       findings_count, status, first_error, landed_at
FROM {DATA_QUALITY_TABLE}
WHERE {DATA_QUALITY_WHERE}
ORDER BY source, object_key, member NULLS FIRST, bill_cycle NULLS FIRST, landed_at NULLS FIRST,
         status, rows_read, rows_loaded, rows_quarantined, findings_count, first_error NULLS FIRST
"""

_SEVERITY_RANK = (
    "CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 WHEN 'info' THEN 2 ELSE 3 END"
)

_FINDINGS_SQL = f"""
SELECT rule_id, severity, customer_id, reference, expected, actual, difference_amount, message,
       object_key, member, line_number
FROM {FINDINGS_TABLE}
WHERE {AUDIT_WHERE}
ORDER BY {_SEVERITY_RANK}, rule_id, customer_id NULLS FIRST, reference NULLS FIRST,
         object_key NULLS FIRST, member NULLS FIRST, line_number NULLS FIRST,
         difference_amount NULLS FIRST, expected NULLS FIRST, actual NULLS FIRST,
         message NULLS FIRST
LIMIT {FINDING_LIMIT}
"""

_FINDINGS_BY_RULE_SQL = f"""
SELECT severity, rule_id, count(*) AS finding_count,
       sum(difference_amount) AS difference_amount
FROM {FINDINGS_TABLE}
WHERE {AUDIT_WHERE}
GROUP BY severity, rule_id
ORDER BY {_SEVERITY_RANK}, rule_id
"""

_QUARANTINE_BY_REASON_SQL = f"""
SELECT source, rule_id, reason, what_to_do AS action, count(*) AS row_count
FROM {QUARANTINE_WITH_ACTIONS}
WHERE {AUDIT_WHERE}
GROUP BY source, rule_id, reason, what_to_do
ORDER BY row_count DESC, source, rule_id, reason NULLS FIRST
"""


# Each re-delivery of the month's bill file, with what it changed per customer (largest change first).
_RESTATEMENTS_SQL = f"""
SELECT restated_at, previous_etag, new_etag, customer_id, lines_added, lines_removed, lines_changed,
       previous_amount_due, new_amount_due, amount_due_delta
FROM {RESTATEMENT_TABLE}
WHERE bill_cycle = ?
ORDER BY restated_at, abs(amount_due_delta) DESC, customer_id
"""


# Held re-deliveries the month does not use, oldest first, with the line the run printed for each.
_HELD_DELIVERIES_SQL = """
SELECT object_key, etag, rule_id, reason, message, held_at, rows_read, rows_loaded, rows_quarantined, first_error
FROM audit.held_deliveries
WHERE released_at IS NULL AND (bill_cycle = ? OR bill_cycle IS NULL)
ORDER BY held_at, object_key
"""


def headline_totals(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> HeadlineTotals:
    """The cycle's totals over the expenditure mart (zeros for a cycle without lines)."""
    return HeadlineTotals(**fetch_records(con, _TOTALS_SQL, [bill_cycle])[0])


def load_month_close_data(con: duckdb.DuckDBPyConnection, bill_cycle: str,
                          lines_table: str = BILL_LINE_TABLE) -> MonthCloseData:
    """Read the aggregated view of ``bill_cycle`` that the page and the summary sheets show; the
    refund lines from ``lines_table`` (the mart, or the pack's copy of its lines, ``reports.pack_lines``)."""
    cycle = [bill_cycle]
    data_quality = fetch_records(con, _DATA_QUALITY_SQL, [bill_cycle] * DATA_QUALITY_PARAMETERS)
    landed = [row["landed_at"] for row in data_quality if row["landed_at"] is not None]
    audit_parameters = [bill_cycle] * AUDIT_PARAMETERS
    return MonthCloseData(
        bill_cycle=bill_cycle,
        totals=headline_totals(con, bill_cycle),
        customers=fetch_records(con, _CUSTOMERS_SQL, cycle),
        services=fetch_records(con, _SERVICES_SQL, cycle),
        refund_lines=fetch_records(con, _REFUND_LINES_SQL.format(lines=lines_table), cycle),
        adjustments=fetch_records(con, _ADJUSTMENTS_SQL, cycle),
        refunds_and_adjustments_by_customer=fetch_records(
            con, _REFUNDS_AND_ADJUSTMENTS_BY_CUSTOMER_SQL, cycle
        ),
        data_quality=data_quality,
        findings=fetch_records(con, _FINDINGS_SQL, audit_parameters),
        findings_by_rule=fetch_records(con, _FINDINGS_BY_RULE_SQL, audit_parameters),
        quarantine_by_reason=fetch_records(con, _QUARANTINE_BY_REASON_SQL, audit_parameters),
        data_landed_until=max(landed) if landed else None,
        restatements=fetch_records(con, _RESTATEMENTS_SQL, cycle),
        held_deliveries=fetch_records(con, _HELD_DELIVERIES_SQL, cycle),
    )
