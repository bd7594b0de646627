"""The queries of the reconciliation part of the month-close pack (``ReconciliationReader``).

The marts read here are small: four rows per cycle for the partner bill, one per customer, service,
coupon or finding. They are read aggregated or capped; nothing here touches bill lines, so the
pack's reconciliation part costs the same for a month of ten million lines as for ten.

Which rows belong to a cycle's pack:
- tie-outs and incentives: the cycle's rows (``bill_cycle`` / ``period``);
- budgets: the cycle's rows (the budget mart keeps each month with a usage export as of its last
  export, so a closed month shows its own figures);
- coupons: the mart as of the latest run (the BSS API keeps no history of coupon balances), so a
  closed month's pack labels them with the date they were read;
- findings: the cycle's, plus those that belong to no cycle (overlapping agreements, coupons used
  beyond their balance), so that an area's colour always agrees with the table under it.

Every query binds the cycle as a parameter; table names are module constants, never data. Every
ORDER BY ends in tie-breakers over the contract columns, so the same marts give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import duckdb

from reports.data import fetch_records
from reports.reconciliation_areas import (
    BUDGET_TABLE,
    COUPON_TABLE,
    CUSTOMER_TIEOUT_TABLE,
    FINDINGS_TABLE,
    INCENTIVE_TABLE,
    MATCHED,
    PARTNER_COMPONENTS,
    PARTNER_TIEOUT_TABLE,
    findings_scope,
)
from schemas.bill_cycle import BillCycle

# How many rows the page lists before pointing to the CSV/XLSX.
FINDING_LIMIT = 100
CUSTOMER_TIEOUT_LIMIT = 50
DISCOUNT_FINDING_LIMIT = 50
BUDGET_LIMIT = 50
COUPON_LIMIT = 50
EXPIRY_WINDOW_DAYS = 30

SEVERITY_RANK = "CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 WHEN 'info' THEN 2 ELSE 0 END"
FINDING_COLUMNS = ("check_area", "severity", "rule_id", "bill_cycle", "customer_id", "reference",
                   "expected", "actual", "difference_amount", "message")
_FINDING_SELECT = ", ".join(FINDING_COLUMNS)
_FINDING_TIE_BREAKERS = """check_area, rule_id, bill_cycle NULLS FIRST, customer_id NULLS FIRST,
         reference NULLS FIRST, difference_amount NULLS FIRST, expected NULLS FIRST,
         actual NULLS FIRST, message NULLS FIRST"""
# Most severe first, then the most money first.
FINDING_ORDER = f"{SEVERITY_RANK}, abs(difference_amount) DESC NULLS LAST, {_FINDING_TIE_BREAKERS}"
# Within one area: the most money first.
AMOUNT_FIRST_ORDER = f"abs(difference_amount) DESC NULLS LAST, {SEVERITY_RANK}, {_FINDING_TIE_BREAKERS}"

_COMPONENT_RANK = ("CASE component " + " ".join(
    f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(PARTNER_COMPONENTS))
    + f" ELSE {len(PARTNER_COMPONENTS)} END")
# Problems first, then frozen or undecided lines, matched ones, and lines with nothing to reconcile.
_INCENTIVE_STATUS_RANK = ("CASE WHEN status IN ('mismatch', 'missing_in_statement', 'extra_in_statement') THEN 0 "
                          "WHEN status = 'matched' THEN 2 "
                          "WHEN status IN ('not_eligible', 'not_reconciled') THEN 3 ELSE 1 END")

INCENTIVE_COLUMNS = ("period", "incentive_type", "service_type_code", "service_type_name", "incentive_policy",
                     "eligible_performance_amount", "rate", "expected_incentive_amount",
                     "statement_incentive_amount", "difference_amount", "status",
                     "expected_reconciliation_date", "expected_payment_date", "frozen_reason",
                     "comparison_status")
BUDGET_COLUMNS = ("customer_id", "customer_name", "bill_cycle", "as_of_date", "days_covered",
                  "budget_type", "budget_amount", "mtd_spend_amount", "utilisation_ratio",
                  "threshold_crossed_ratio", "forecast_amount", "forecast_utilisation_ratio", "is_frozen",
                  "status", "alert_level", "note")
COUPON_COLUMNS = ("coupon_id", "customer_id", "coupon_type", "status", "face_value", "balance",
                  "used_amount", "used_this_month_amount", "valid_time", "expire_time",
                  "days_to_expiry")
TIEOUT_CUSTOMER_COLUMNS = ("customer_id", "customer_name", "file_amount", "api_amount",
                           "difference_amount", "status")


class ReconciliationReader:
    """The queries, each one guarded by the presence of the tables it reads (callers check the
    area's availability first). ``iter_*`` methods stream every row for the workbook; consume
    one fully before the next query, as they read from the connection itself."""

    def __init__(self, con: duckdb.DuckDBPyConnection, bill_cycle: str, present: frozenset[str]):
        self.con = con
        self.cycle = bill_cycle
        self.present = present
        self.scope = findings_scope()

    def _fetch(self, sql: str, parameters: Sequence[object] = ()) -> list[dict[str, Any]]:
        return fetch_records(self.con, sql, parameters)

    def _iter(self, sql: str, parameters: Sequence[object] = (), batch_size: int = 10_000
              ) -> Iterator[dict[str, Any]]:
        result = self.con.execute(sql, list(parameters))
        names = [column[0] for column in result.description]
        while batch := result.fetchmany(batch_size):
            for row in batch:
                yield dict(zip(names, row, strict=True))

    # findings ------------------------------------------------------------------------------

    def finding_groups(self) -> list[dict[str, Any]]:
        if FINDINGS_TABLE not in self.present:
            return []
        return self._fetch(f"""
            SELECT check_area, severity, rule_id, count(*) AS finding_count,
                   sum(difference_amount) AS difference_amount,
                   coalesce(sum(abs(difference_amount)), 0) AS abs_difference_amount
            FROM {FINDINGS_TABLE} WHERE {self.scope}
            GROUP BY check_area, severity, rule_id
            ORDER BY check_area NULLS FIRST, {SEVERITY_RANK}, severity NULLS FIRST, rule_id NULLS FIRST
            """, [self.cycle])

    def _findings_sql(self, area: str | None, order: str, limit: int | None) -> tuple[str, list[object]]:
        area_filter = "AND check_area = ?" if area is not None else ""
        parameters: list[object] = [self.cycle] + ([area] if area is not None else [])
        limit_clause = f"LIMIT {int(limit)}" if limit is not None else ""
        return (f"""
            SELECT {_FINDING_SELECT} FROM {FINDINGS_TABLE}
            WHERE {self.scope} {area_filter}
            ORDER BY {order} {limit_clause}""", parameters)

    def findings(self, area: str | None = None, limit: int | None = None,
                 order: str = FINDING_ORDER) -> list[dict[str, Any]]:
        if FINDINGS_TABLE not in self.present:
            return []
        return self._fetch(*self._findings_sql(area, order, limit))

    def iter_findings(self, area: str | None = None, order: str = FINDING_ORDER) -> Iterator[dict[str, Any]]:
        if FINDINGS_TABLE not in self.present:
            return iter(())
        return self._iter(*self._findings_sql(area, order, None))

    # tie-outs ------------------------------------------------------------------------------

    def partner_tieout(self) -> list[dict[str, Any]]:
        return self._fetch(f"""
            SELECT component, file_amount, api_amount, difference_amount, status
            FROM {PARTNER_TIEOUT_TABLE} WHERE bill_cycle = ?
            ORDER BY {_COMPONENT_RANK}, component, status NULLS FIRST, file_amount NULLS FIRST,
                     api_amount NULLS FIRST, difference_amount NULLS FIRST""", [self.cycle])

    def customer_tieout_by_status(self) -> list[dict[str, Any]]:
        return self._fetch(f"""
            SELECT status, count(*) AS customer_count, sum(file_amount) AS file_amount,
                   sum(api_amount) AS api_amount, sum(difference_amount) AS difference_amount
            FROM {CUSTOMER_TIEOUT_TABLE} WHERE bill_cycle = ?
            GROUP BY status ORDER BY status = '{MATCHED}', status NULLS FIRST""", [self.cycle])

    def customer_tieout_exceptions(self, limit: int | None = CUSTOMER_TIEOUT_LIMIT) -> list[dict[str, Any]]:
        limit_clause = f"LIMIT {int(limit)}" if limit is not None else ""
        return self._fetch(f"""
            SELECT {', '.join(TIEOUT_CUSTOMER_COLUMNS)} FROM {CUSTOMER_TIEOUT_TABLE}
            WHERE bill_cycle = ? AND status IS DISTINCT FROM '{MATCHED}'
            ORDER BY abs(difference_amount) DESC NULLS LAST, customer_id NULLS FIRST,
                     status NULLS FIRST, customer_name NULLS FIRST, file_amount NULLS FIRST,
                     api_amount NULLS FIRST {limit_clause}""", [self.cycle])

    def iter_customer_tieout(self) -> Iterator[dict[str, Any]]:
        """Every customer of the cycle: those not matched first (largest difference first), then
        the matched ones by id."""
        return self._iter(f"""
            SELECT {', '.join(TIEOUT_CUSTOMER_COLUMNS)} FROM {CUSTOMER_TIEOUT_TABLE}
            WHERE bill_cycle = ?
            ORDER BY status IS NOT DISTINCT FROM '{MATCHED}',
                     CASE WHEN status IS DISTINCT FROM '{MATCHED}' THEN abs(difference_amount) END
                         DESC NULLS LAST,
                     customer_id NULLS FIRST, status NULLS FIRST, customer_name NULLS FIRST,
                     file_amount NULLS FIRST, api_amount NULLS FIRST""", [self.cycle])

    # incentives ----------------------------------------------------------------------------

    def incentives(self) -> list[dict[str, Any]]:
        return self._fetch(f"""
            SELECT {', '.join(INCENTIVE_COLUMNS)} FROM {INCENTIVE_TABLE} WHERE period = ?
            ORDER BY {_INCENTIVE_STATUS_RANK}, incentive_type NULLS FIRST,
                     service_type_code NULLS FIRST, status NULLS FIRST,
                     incentive_policy NULLS FIRST, difference_amount NULLS FIRST,
                     expected_incentive_amount NULLS FIRST, statement_incentive_amount NULLS FIRST
            """, [self.cycle])

    # budgets -------------------------------------------------------------------------------

    def budget_summary(self) -> dict[str, Any]:
        return self._fetch(f"""
            SELECT count(*) AS customer_count,
                   count(budget_amount) AS budget_count,
                   count(*) FILTER (WHERE threshold_crossed_ratio >= 0.75) AS over_75_count,
                   count(*) FILTER (WHERE threshold_crossed_ratio >= 0.90) AS over_90_count,
                   count(*) FILTER (WHERE threshold_crossed_ratio >= 1) AS over_100_count,
                   -- below 0.75 but forecast above the budget by month end
                   count(*) FILTER (WHERE status = 'forecast_over') AS forecast_over_count,
                   count(*) FILTER (WHERE alert_level = 'amber') AS watch_count,
                   count(*) FILTER (WHERE mtd_spend_amount < 0) AS net_refund_count,
                   count(*) FILTER (WHERE coalesce(CAST(is_frozen AS BOOLEAN), false)) AS frozen_count,
                   max(bill_cycle) AS bill_cycle, max(as_of_date) AS as_of_date,
                   max(days_covered) AS days_covered, max(days_in_month) AS days_in_month,
                   bool_or(is_closed) AS is_closed,
                   max(budget_snapshot_date) AS budget_snapshot_date,
                   bool_or(budget_snapshot_date > last_day(CAST(bill_cycle || '-01' AS DATE)))
                       AS budgets_read_after_month,
                   coalesce(sum(budget_amount), 0) AS budget_amount,
                   coalesce(sum(mtd_spend_amount), 0) AS mtd_spend_amount
            FROM {BUDGET_TABLE} WHERE bill_cycle = ?""", [self.cycle])[0]

    def budgets(self, limit: int | None = BUDGET_LIMIT) -> list[dict[str, Any]]:
        return self._fetch(self._budgets_sql(limit), [self.cycle])

    def iter_budgets(self) -> Iterator[dict[str, Any]]:
        return self._iter(self._budgets_sql(None), [self.cycle])

    @staticmethod
    def _budgets_sql(limit: int | None) -> str:
        """The cycle's budgets: red, then amber, then the rest; highest utilisation first within each."""
        limit_clause = f"LIMIT {int(limit)}" if limit is not None else ""
        return (f"""
            SELECT {', '.join(BUDGET_COLUMNS)} FROM {BUDGET_TABLE} WHERE bill_cycle = ?
            ORDER BY CASE alert_level WHEN 'red' THEN 0 WHEN 'amber' THEN 1 ELSE 2 END,
                     utilisation_ratio DESC NULLS LAST, forecast_utilisation_ratio DESC NULLS LAST,
                     customer_id NULLS FIRST, budget_type NULLS FIRST, budget_amount NULLS FIRST,
                     mtd_spend_amount NULLS FIRST {limit_clause}""")

    def iter_coupons(self) -> Iterator[dict[str, Any]]:
        """Every coupon, the soonest to expire first."""
        return self._iter(f"""
            SELECT {', '.join(COUPON_COLUMNS)} FROM {COUPON_TABLE}
            ORDER BY days_to_expiry NULLS LAST, expire_time NULLS FIRST, coupon_id NULLS FIRST,
                     customer_id NULLS FIRST, coupon_type NULLS FIRST, balance NULLS FIRST""")

    # coupons -------------------------------------------------------------------------------

    _EXPIRING = f"days_to_expiry BETWEEN 0 AND {EXPIRY_WINDOW_DAYS} AND coalesce(balance, 0) > 0"

    def coupon_summary(self) -> dict[str, Any]:
        return self._fetch(f"""
            SELECT count(*) AS coupon_count,
                   count(*) FILTER (WHERE {self._EXPIRING}) AS expiring_count,
                   coalesce(sum(balance) FILTER (WHERE {self._EXPIRING}), 0) AS expiring_balance,
                   coalesce(sum(balance), 0) AS balance,
                   coalesce(sum(used_this_month_amount), 0) AS used_this_month_amount,
                   max(used_in_bill_cycle) AS used_in_bill_cycle,
                   max(as_of_date) AS as_of_date, max(snapshot_date) AS snapshot_date,
                   -- read after the pack's month ended: the month's own balances are not known
                   max(snapshot_date) > ? AS read_after_cycle
            FROM {COUPON_TABLE}""", [BillCycle.parse(self.cycle).last_day])[0]

    def coupons_expiring(self, limit: int | None = COUPON_LIMIT) -> list[dict[str, Any]]:
        limit_clause = f"LIMIT {int(limit)}" if limit is not None else ""
        return self._fetch(f"""
            SELECT {', '.join(COUPON_COLUMNS)} FROM {COUPON_TABLE} WHERE {self._EXPIRING}
            ORDER BY days_to_expiry, expire_time NULLS FIRST, coupon_id NULLS FIRST,
                     customer_id NULLS FIRST, balance NULLS FIRST {limit_clause}""")

    def coupons_with_findings(self, limit: int | None = COUPON_LIMIT) -> list[dict[str, Any]]:
        """Coupons a coupon finding points at: by coupon id or coupon type when the finding's
        reference names one of the customer's coupons, else (a trade id) all the customer's coupons."""
        if FINDINGS_TABLE not in self.present:
            return []
        limit_clause = f"LIMIT {int(limit)}" if limit is not None else ""
        columns = ", ".join(f"c.{name}" for name in COUPON_COLUMNS)
        return self._fetch(f"""
            WITH f AS (
                SELECT customer_id, reference, rule_id FROM {FINDINGS_TABLE}
                WHERE check_area = 'coupon' AND {self.scope}),
            named AS (
                SELECT DISTINCT f.customer_id, f.reference FROM f JOIN {COUPON_TABLE} c
                  ON c.customer_id = f.customer_id AND f.reference IN (c.coupon_id, c.coupon_type))
            SELECT {columns}, count(*) AS finding_count,
                   string_agg(DISTINCT f.rule_id, ', ' ORDER BY f.rule_id) AS finding_rules
            FROM {COUPON_TABLE} c JOIN f ON f.customer_id = c.customer_id
             AND (f.reference IN (c.coupon_id, c.coupon_type)
                  OR NOT EXISTS (SELECT 1 FROM named n WHERE n.customer_id = f.customer_id
                                                         AND n.reference IS NOT DISTINCT FROM f.reference))
            GROUP BY ALL
            ORDER BY c.customer_id NULLS FIRST, c.coupon_type NULLS FIRST, c.coupon_id NULLS FIRST,
                     c.expire_time NULLS FIRST, c.balance NULLS FIRST {limit_clause}""", [self.cycle])
