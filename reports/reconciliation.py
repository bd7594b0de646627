"""Reading the reconciliation marts for the month-close pack (``docs/reconciliation.md``).

The marts read here are small: four rows per cycle for the partner bill, one per customer, service,
coupon or finding. They are read aggregated or capped; nothing here touches bill lines, so the
pack's reconciliation part costs the same for a month of ten million lines as for ten.

Every table may be missing (a warehouse built before reconciliation existed), and the API-fed
ones hold nothing while the BSS partner API is not configured. Each area then carries the reason
it cannot be shown, in the words the page prints: ``not available: …`` or ``no data …``.

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

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from reports.data import EXPENDITURE_TABLE, TableExport, fetch_records
from reports.formatting import format_counted, format_usd, money_sum
from reports.reconciliation_status import Area, AreaStatus, area_status

FINDINGS_TABLE = "marts.reconciliation_findings"
PARTNER_TIEOUT_TABLE = "marts.partner_bill_tieout"
CUSTOMER_TIEOUT_TABLE = "marts.customer_bill_tieout"
INCENTIVE_TABLE = "marts.incentive_reconciliation"
BUDGET_TABLE = "marts.budget_status"
COUPON_TABLE = "marts.coupon_status"

RECONCILIATION_TABLES = (FINDINGS_TABLE, PARTNER_TIEOUT_TABLE, CUSTOMER_TIEOUT_TABLE,
                         INCENTIVE_TABLE, BUDGET_TABLE, COUPON_TABLE)

API_NOT_CONFIGURED = "not available: the BSS partner API is not configured"

TIEOUT = Area("tieout", "Bill tie-out", "tie-out", (PARTNER_TIEOUT_TABLE, CUSTOMER_TIEOUT_TABLE),
              needs_api=True, empty_means_clean=False)
DISCOUNT = Area("discount", "Discount audit", "discount-audit", (FINDINGS_TABLE,),
                needs_api=False, empty_means_clean=True)
INCENTIVE = Area("incentive", "Incentives", "incentives", (INCENTIVE_TABLE,),
                 needs_api=True, empty_means_clean=False)
BUDGET = Area("budget", "Budgets", "budgets", (BUDGET_TABLE,),
              needs_api=True, empty_means_clean=False)
COUPON = Area("coupon", "Coupons", "coupons", (COUPON_TABLE,),
              needs_api=True, empty_means_clean=True)
AREAS = (TIEOUT, DISCOUNT, INCENTIVE, BUDGET, COUPON)
AREA_TITLES = {area.key: area.title for area in AREAS}

PARTNER_COMPONENTS = ("consumption", "refunds", "adjustments", "amount_due")
COMPONENT_LABELS = {
    "consumption": "Consumption (expenditure lines)",
    "refunds": "Refunds",
    "adjustments": "Adjustments",
    "amount_due": "Amount due",
}
MATCHED = "matched"
MISSING_IN_FILE = "missing_in_file"
INCENTIVE_MISMATCH_STATUSES = ("mismatch", "missing_in_statement", "extra_in_statement")
INCENTIVE_FROZEN = "frozen"
# Lines compared with the statement; the others (not_eligible, not_reconciled, policy_unknown) are shown
# for information and count neither way.
INCENTIVE_COMPARED_STATUSES = (MATCHED, INCENTIVE_FROZEN, *INCENTIVE_MISMATCH_STATUSES)

# Budget status needs both the API's budgets and a usage export of the month; a month none of whose
# exports was loaded while it was open never gets one, which is not the same as having no budgets.
def budget_no_data(bill_cycle: str) -> str:
    return (f"no data: no budget status for {bill_cycle} (budgets are measured on the month's daily usage "
            f"exports, and none of {bill_cycle} was loaded)")


def budget_not_judged(bill_cycle: str, read_on: object) -> str:
    return (f"not judged: no budget was read during {bill_cycle} (the BSS API keeps only the current budgets); "
            f"the table compares those read on {read_on} with {bill_cycle}'s spend")


# How many rows the page lists before pointing to the CSV/XLSX.
FINDING_LIMIT = 100
CUSTOMER_TIEOUT_LIMIT = 50
DISCOUNT_FINDING_LIMIT = 50
BUDGET_LIMIT = 50
COUPON_LIMIT = 50
EXPIRY_WINDOW_DAYS = 30
BUDGET_WATCH_THRESHOLD = 75

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

# ---------------------------------------------------------------------------------------------
# What exists


def existing_tables(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> frozenset[str]:
    """Those of ``names`` (``schema.table``) that exist as tables or views in the current database."""
    wanted = list(names)
    rows = con.execute(
        """SELECT table_schema || '.' || table_name FROM information_schema.tables
           WHERE table_catalog = current_database() AND table_schema || '.' || table_name IN
                 (SELECT unnest(?::VARCHAR[]))""",
        [wanted],
    ).fetchall()
    return frozenset(row[0] for row in rows)


NO_MARTS_REASON = ("not available: this warehouse has none of the reconciliation marts "
                   "(it was built before they existed)")


def missing_table_reason(table: str) -> str:
    return (f"not available: this warehouse has no {table} "
            "(it was built before the reconciliation marts existed)")


def unavailable_reason(area: Area, present: frozenset[str], api_configured: bool | None) -> str | None:
    """Why ``area`` cannot be shown, or None. ``api_configured`` None means "not known": the data decides."""
    if area.needs_api and api_configured is False:
        return API_NOT_CONFIGURED
    for table in area.tables:
        if table not in present:
            return missing_table_reason(table)
    return None


def findings_scope(present: frozenset[str]) -> str:
    """WHERE clause (one parameter: the cycle) choosing the findings shown in a cycle's pack."""
    return "(bill_cycle = ? OR bill_cycle IS NULL)"


def reconciliation_exports(present: frozenset[str]) -> tuple[TableExport, ...]:
    """The CSV exports of the reconciliation marts that exist in the warehouse, in a fixed order."""
    exports = (
        TableExport("reconciliation_findings", FINDINGS_TABLE, findings_scope(present), 1,
                    ("check_area", "rule_id", "bill_cycle", "customer_id", "reference")),
        TableExport("partner_bill_tieout", PARTNER_TIEOUT_TABLE, "bill_cycle = ?", 1,
                    ("bill_cycle", "component")),
        TableExport("customer_bill_tieout", CUSTOMER_TIEOUT_TABLE, "bill_cycle = ?", 1,
                    ("bill_cycle", "customer_id")),
        TableExport("incentive_reconciliation", INCENTIVE_TABLE, "period = ?", 1,
                    ("period", "incentive_type", "service_type_code")),
        TableExport("budget_status", BUDGET_TABLE, "bill_cycle = ?", 1, ("customer_id",)),
        TableExport("coupon_status", COUPON_TABLE, "TRUE", 0, ("customer_id", "coupon_id")),
    )
    return tuple(export for export in exports if export.table in present)


# ---------------------------------------------------------------------------------------------
# What the page and the workbook show


@dataclass(frozen=True)
class ReconciliationData:
    """The reconciliation part of one cycle's pack."""

    bill_cycle: str
    api_configured: bool | None
    present_tables: frozenset[str]
    customer_names: dict[str, str]
    service_names: dict[str, str]
    """Service type code -> name, for codes shown in findings and incentives."""
    statuses: list[AreaStatus]
    finding_groups: list[dict[str, Any]]
    """check_area × severity × rule_id: finding_count, difference_amount, abs_difference_amount."""
    findings: list[dict[str, Any]]
    """The first FINDING_LIMIT findings, most severe and largest first."""
    partner_tieout: list[dict[str, Any]]
    customer_tieout_by_status: list[dict[str, Any]]
    customer_tieout_exceptions: list[dict[str, Any]]
    discount_findings: list[dict[str, Any]]
    incentives: list[dict[str, Any]]
    budget_summary: dict[str, Any]
    budgets: list[dict[str, Any]]
    coupon_summary: dict[str, Any]
    coupons_expiring: list[dict[str, Any]]
    coupons_with_findings: list[dict[str, Any]]

    @property
    def finding_count(self) -> int:
        return sum(group["finding_count"] for group in self.finding_groups)

    def area_finding_count(self, area_key: str) -> int:
        return sum(g["finding_count"] for g in self.finding_groups if g["check_area"] == area_key)

    def status(self, area_key: str) -> AreaStatus:
        return next(status for status in self.statuses if status.area.key == area_key)

    @property
    def customer_tieout_matched(self) -> dict[str, Any] | None:
        return next((row for row in self.customer_tieout_by_status if row["status"] == MATCHED), None)

    @property
    def customer_tieout_count(self) -> int:
        return sum(row["customer_count"] for row in self.customer_tieout_by_status)

    @property
    def customer_tieout_exception_count(self) -> int:
        return sum(row["customer_count"] for row in self.customer_tieout_by_status
                   if row["status"] != MATCHED)

    @property
    def incentive_totals(self) -> dict[str, Decimal]:
        columns = ("eligible_performance_amount", "expected_incentive_amount",
                   "statement_incentive_amount", "difference_amount")
        return {c: money_sum(row[c] for row in self.incentives) for c in columns}

    def customer_name(self, customer_id: str | None) -> str | None:
        return self.customer_names.get(customer_id) if customer_id is not None else None

    def service_name(self, reference: str | None) -> str | None:
        """The name of the service a code or a finding's reference names: ``hws.service.type.obs``,
        or an agreement's scope ``hws.service.type.obs / *``; None for any other reference."""
        if reference is None:
            return None
        return self.service_names.get(reference.split(" / ")[0].strip())


def load_reconciliation_data(
    con: duckdb.DuckDBPyConnection, bill_cycle: str, api_configured: bool | None = None
) -> ReconciliationData:
    """Read what the reconciliation part of ``bill_cycle``'s pack shows."""
    present = existing_tables(con, RECONCILIATION_TABLES)
    reader = ReconciliationReader(con, bill_cycle, present)
    reasons = {area.key: unavailable_reason(area, present, api_configured) for area in AREAS}

    finding_groups = reader.finding_groups()
    findings = reader.findings(limit=FINDING_LIMIT)
    partner = reader.partner_tieout() if reasons[TIEOUT.key] is None else []
    customers_by_status = reader.customer_tieout_by_status() if reasons[TIEOUT.key] is None else []
    exceptions = reader.customer_tieout_exceptions() if reasons[TIEOUT.key] is None else []
    discount = reader.findings(area=DISCOUNT.key, limit=DISCOUNT_FINDING_LIMIT, order=AMOUNT_FIRST_ORDER) \
        if reasons[DISCOUNT.key] is None else []
    incentives = reader.incentives() if reasons[INCENTIVE.key] is None else []
    budget_summary = reader.budget_summary() if reasons[BUDGET.key] is None else {}
    budgets = reader.budgets() if reasons[BUDGET.key] is None else []
    coupon_summary = reader.coupon_summary() if reasons[COUPON.key] is None else {}
    expiring = reader.coupons_expiring() if reasons[COUPON.key] is None else []
    flagged = reader.coupons_with_findings() if reasons[COUPON.key] is None else []

    def groups_of(area: Area) -> list[dict[str, Any]]:
        return [g for g in finding_groups if g["check_area"] == area.key]

    no_data = f"no data for {bill_cycle}"
    # Before the bill file arrives (the open month, or a late file) the partner tie-out holds only the
    # API's side: that is a tie-out still to do, not a mismatch.
    awaiting_file = bool(partner) and all(row["status"] == MISSING_IN_FILE
                                          for row in (*partner, *customers_by_status))
    statuses = [
        area_status(
            TIEOUT, unavailable_reason=reasons[TIEOUT.key],
            has_rows=bool(partner or customers_by_status) and not awaiting_file,
            no_data_reason=(f"no data for {bill_cycle}: the bill file has not been delivered yet"
                            if awaiting_file else no_data),
            finding_groups=groups_of(TIEOUT),
            mismatch_count=sum(1 for row in partner if row["status"] != MATCHED)
            + sum(row["customer_count"] for row in customers_by_status if row["status"] != MATCHED),
            facts=_tieout_facts(partner, customers_by_status),
        ),
        area_status(
            DISCOUNT, unavailable_reason=reasons[DISCOUNT.key], has_rows=True,
            no_data_reason=no_data, finding_groups=groups_of(DISCOUNT),
            facts=_discount_facts(groups_of(DISCOUNT), api_configured),
        ),
        area_status(
            INCENTIVE, unavailable_reason=reasons[INCENTIVE.key], has_rows=bool(incentives),
            no_data_reason=f"no data for {bill_cycle}: no incentive to reconcile for this period",
            finding_groups=groups_of(INCENTIVE),
            mismatch_count=sum(1 for row in incentives if row["status"] in INCENTIVE_MISMATCH_STATUSES),
            frozen_count=sum(1 for row in incentives if row["status"] == INCENTIVE_FROZEN),
            facts=_incentive_facts(incentives),
        ),
        area_status(
            # budgets read only after the month ended are shown, labelled, but not judged: the month's own
            # budgets are not known
            BUDGET, unavailable_reason=reasons[BUDGET.key],
            has_rows=bool(budget_summary.get("customer_count")) and not budget_summary.get("budgets_read_after_month"),
            no_data_reason=(budget_not_judged(bill_cycle, budget_summary["budget_snapshot_date"])
                            if budget_summary.get("budgets_read_after_month") else budget_no_data(bill_cycle)),
            finding_groups=groups_of(BUDGET), facts=_budget_facts(budget_summary),
            limit_count=budget_summary.get("over_100_count") or 0,
            watch_count=budget_summary.get("watch_count") or 0,
        ),
        area_status(
            COUPON, unavailable_reason=reasons[COUPON.key], has_rows=True,
            no_data_reason="no data", finding_groups=groups_of(COUPON),
            facts=_coupon_facts(coupon_summary, bill_cycle),
        ),
    ]
    return ReconciliationData(
        bill_cycle=bill_cycle,
        api_configured=api_configured,
        present_tables=present,
        customer_names=reader.customer_names(),
        service_names=reader.service_names(),
        statuses=statuses,
        finding_groups=finding_groups,
        findings=findings,
        partner_tieout=partner,
        customer_tieout_by_status=customers_by_status,
        customer_tieout_exceptions=exceptions,
        discount_findings=discount,
        incentives=incentives,
        budget_summary=budget_summary,
        budgets=budgets,
        coupon_summary=coupon_summary,
        coupons_expiring=expiring,
        coupons_with_findings=flagged,
    )


class ReconciliationReader:
    """The queries, each one guarded by the presence of the tables it reads (callers check the
    area's availability first). ``iter_*`` methods stream every row for the workbook; consume
    one fully before the next query, as they read from the connection itself."""

    def __init__(self, con: duckdb.DuckDBPyConnection, bill_cycle: str, present: frozenset[str]):
        self.con = con
        self.cycle = bill_cycle
        self.present = present
        self.scope = findings_scope(present)

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
                   max(snapshot_date) > last_day(CAST(? || '-01' AS DATE)) AS read_after_cycle
            FROM {COUPON_TABLE}""", [self.cycle])[0]

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

    # names -------------------------------------------------------------------------------------

    def service_names(self) -> dict[str, str]:
        """Service type code -> its newest name in the marts that carry one: the incentive mart
        (the API's policies), then the expenditure mart (the bill lines), which wins."""
        sources = []
        if INCENTIVE_TABLE in self.present:
            sources.append(f"SELECT service_type_code, max_by(service_type_name, period) FROM {INCENTIVE_TABLE} "
                           "WHERE service_type_code IS NOT NULL AND service_type_name IS NOT NULL GROUP BY 1")
        if EXPENDITURE_TABLE in existing_tables(self.con, [EXPENDITURE_TABLE]):
            sources.append(f"SELECT service_type_code, max_by(service_type_name, bill_cycle) FROM {EXPENDITURE_TABLE} "
                           "WHERE service_type_code IS NOT NULL AND service_type_name IS NOT NULL GROUP BY 1")
        names: dict[str, str] = {}
        for sql in sources:  # later sources win
            names.update(dict(self.con.execute(sql).fetchall()))
        return names

    # customer names ------------------------------------------------------------------------

    def customer_names(self) -> dict[str, str]:
        """Customer id -> name for the findings: the bill file's name of the cycle first, then
        the tie-out's (a customer only in the API), then the budget mart's."""
        sources: list[tuple[str, list[object]]] = []
        if BUDGET_TABLE in self.present:
            sources.append((f"SELECT customer_id, min(customer_name) FROM {BUDGET_TABLE} "
                            "WHERE customer_name IS NOT NULL GROUP BY customer_id", []))
        if CUSTOMER_TIEOUT_TABLE in self.present:
            sources.append((f"SELECT customer_id, min(customer_name) FROM {CUSTOMER_TIEOUT_TABLE} "
                            "WHERE bill_cycle = ? AND customer_name IS NOT NULL GROUP BY customer_id",
                            [self.cycle]))
        if EXPENDITURE_TABLE in existing_tables(self.con, [EXPENDITURE_TABLE]):
            sources.append((f"SELECT customer_id, min(customer_name) FROM {EXPENDITURE_TABLE} "
                            "WHERE bill_cycle = ? AND customer_name IS NOT NULL GROUP BY customer_id",
                            [self.cycle]))
        names: dict[str, str] = {}
        for sql, parameters in sources:  # later sources win
            names.update(dict(self.con.execute(sql, parameters).fetchall()))
        return names


# ---------------------------------------------------------------------------------------------
# The short lines under each area's status


def _tieout_facts(partner: list[dict[str, Any]], by_status: list[dict[str, Any]]) -> list[str]:
    facts = []
    if partner:
        matched = sum(1 for row in partner if row["status"] == MATCHED)
        facts.append(f"Partner bill: {matched} of {format_counted(len(partner), 'component')} matched")
    if by_status:
        total = sum(row["customer_count"] for row in by_status)
        matched = sum(row["customer_count"] for row in by_status if row["status"] == MATCHED)
        facts.append(f"Customers: {matched:,} of {total:,} matched")
    return facts


def _discount_facts(groups: list[dict[str, Any]], api_configured: bool | None) -> list[str]:
    """The rules with the most findings, at most three."""
    by_rule: dict[str, int] = {}
    for group in groups:
        by_rule[group["rule_id"]] = by_rule.get(group["rule_id"], 0) + group["finding_count"]
    ranked = sorted(by_rule.items(), key=lambda item: (-item[1], item[0] or ""))
    facts = [f"{rule}: {count:,}" for rule, count in ranked[:3]]
    if len(ranked) > 3:
        facts.append(f"and {format_counted(len(ranked) - 3, 'more rule')}")
    if api_configured is False:
        facts.append("Rules that compare with the BSS API were not checked")
    return facts


def _incentive_facts(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    expected = money_sum(row["expected_incentive_amount"] for row in rows)
    statement = money_sum(row["statement_incentive_amount"] for row in rows)
    compared = [row for row in rows if row["status"] in INCENTIVE_COMPARED_STATUSES]
    # a frozen line may well agree with the statement: count agreement by the comparison itself
    agreeing = sum(1 for row in compared if row["comparison_status"] == MATCHED)
    frozen = sum(1 for row in compared if row["status"] == INCENTIVE_FROZEN)
    facts = [f"{agreeing} of {format_counted(len(compared), 'compared line')} match the statement"
             + (f", {frozen} frozen" if frozen else ""),
             f"Expected {format_usd(expected)}", f"Statement {format_usd(statement)}"]
    return facts


def _budget_facts(summary: dict[str, Any]) -> list[str]:
    if not summary.get("customer_count"):
        return []
    facts = [f"{summary['over_100_count']:,} over budget, "
             f"{summary['over_75_count'] - summary['over_100_count']:,} at 75/90 %, "
             f"{summary['forecast_over_count']:,} more forecast above budget "
             f"(of {format_counted(summary['customer_count'], 'customer')})"]
    if summary.get("net_refund_count"):
        facts.append(f"{format_counted(summary['net_refund_count'], 'customer')} with refunds above the "
                     "month's usage (see the note)")
    if summary.get("as_of_date") is not None:
        if summary.get("is_closed"):
            facts.append(f"As of {summary['as_of_date']}, the last usage export of {summary['bill_cycle']}")
        else:
            facts.append(f"As of {summary['as_of_date']} (open month {summary['bill_cycle']})")
    if summary.get("budgets_read_after_month"):
        facts.append(f"Budgets as read on {summary['budget_snapshot_date']}: none was read during "
                     f"{summary['bill_cycle']}")
    return facts


def _coupon_facts(summary: dict[str, Any], bill_cycle: str) -> list[str]:
    if not summary:
        return []
    if not summary["coupon_count"]:
        return ["No coupons"]
    facts = [f"{format_counted(summary['coupon_count'], 'coupon')}, "
             f"{summary['expiring_count']:,} expiring within {EXPIRY_WINDOW_DAYS} days",
             f"Balance expiring {format_usd(summary['expiring_balance'])}"]
    if summary.get("read_after_cycle"):
        facts.append(coupons_as_read_note(summary, bill_cycle))
    return facts


def coupons_as_read_note(summary: dict[str, Any], bill_cycle: str) -> str:
    """Why a closed month's pack shows later coupon balances, and from which day its days left count."""
    return (f"As read on {summary['snapshot_date']}, after {bill_cycle} ended (the BSS API keeps only "
            f"current balances); days left count from {summary['as_of_date']}")


def iter_with_names(rows: Iterable[dict[str, Any]], names: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Each row with ``customer_name`` filled from ``names`` when the row has none."""
    for row in rows:
        if row.get("customer_name") is None:
            row = {**row, "customer_name": names.get(row.get("customer_id"))}
        yield row
