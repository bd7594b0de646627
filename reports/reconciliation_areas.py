"""The reconciliation areas of the month-close pack, the marts each one reads, and whether it can be shown.

Every table may be missing (a warehouse built before reconciliation existed), and the API-fed
ones hold nothing while the BSS partner API is not configured. An area then carries the reason
it cannot be shown, in the words the page prints: ``not available: …`` or ``no data …``. The
status values the marts use, and the CSV exports of the marts a warehouse has, are here too.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from reports.exports import TableExport, cycle_export
from reports.reconciliation_status import Area

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



def findings_scope() -> str:
    """WHERE clause (one parameter: the cycle) choosing the findings shown in a cycle's pack."""
    return "(bill_cycle = ? OR bill_cycle IS NULL)"


def reconciliation_exports(present: frozenset[str]) -> tuple[TableExport, ...]:
    """The CSV exports of the reconciliation marts that exist in the warehouse, in a fixed order."""
    exports = (
        TableExport("reconciliation_findings", FINDINGS_TABLE, findings_scope(), 1,
                    ("check_area", "rule_id", "bill_cycle", "customer_id", "reference")),
        cycle_export("partner_bill_tieout", PARTNER_TIEOUT_TABLE, ("bill_cycle", "component")),
        cycle_export("customer_bill_tieout", CUSTOMER_TIEOUT_TABLE, ("bill_cycle", "customer_id")),
        TableExport("incentive_reconciliation", INCENTIVE_TABLE, "period = ?", 1,
                    ("period", "incentive_type", "service_type_code")),
        cycle_export("budget_status", BUDGET_TABLE, ("customer_id",)),
        TableExport("coupon_status", COUPON_TABLE, "TRUE", 0, ("customer_id", "coupon_id")),
    )
    return tuple(export for export in exports if export.table in present)
