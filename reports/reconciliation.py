"""What the reconciliation part of one cycle's month-close pack shows (``docs/reconciliation.md``):
``load_reconciliation_data`` reads it through ``ReconciliationReader`` and judges each area's status.

Which areas can be shown and why not is ``reports.reconciliation_areas``; the queries, and which rows
belong to a cycle's pack, ``reports.reconciliation_reader``; the names beside ids and codes,
``reports.reconciliation_names``; the lines under each status, ``reports.reconciliation_facts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from reports.formatting import CURRENCY, money_sum
from reports.reconciliation_areas import (
    AREAS,
    BUDGET,
    COUPON,
    DISCOUNT,
    INCENTIVE,
    INCENTIVE_FROZEN,
    INCENTIVE_MISMATCH_STATUSES,
    MATCHED,
    MISSING_IN_FILE,
    RECONCILIATION_TABLES,
    TIEOUT,
    budget_no_data,
    budget_not_judged,
    existing_tables,
    unavailable_reason,
)
from reports.reconciliation_facts import budget_facts, coupon_facts, discount_facts, incentive_facts, tieout_facts
from reports.reconciliation_names import customer_names, service_names
from reports.reconciliation_reader import (
    AMOUNT_FIRST_ORDER,
    DISCOUNT_FINDING_LIMIT,
    FINDING_LIMIT,
    ReconciliationReader,
)
from reports.reconciliation_status import Area, AreaStatus, area_status


@dataclass(frozen=True)
class ReconciliationData:
    """The reconciliation part of one cycle's pack."""

    bill_cycle: str
    currency: str                       # what the amounts are labelled in
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
    con: duckdb.DuckDBPyConnection, bill_cycle: str, api_configured: bool | None = None, currency: str = CURRENCY
) -> ReconciliationData:
    """Read what the reconciliation part of ``bill_cycle``'s pack shows, its amounts labelled in ``currency``."""
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
            facts=tieout_facts(partner, customers_by_status),
        ),
        area_status(
            DISCOUNT, unavailable_reason=reasons[DISCOUNT.key], has_rows=True,
            no_data_reason=no_data, finding_groups=groups_of(DISCOUNT),
            facts=discount_facts(groups_of(DISCOUNT), api_configured),
        ),
        area_status(
            INCENTIVE, unavailable_reason=reasons[INCENTIVE.key], has_rows=bool(incentives),
            no_data_reason=f"no data for {bill_cycle}: no incentive to reconcile for this period",
            finding_groups=groups_of(INCENTIVE),
            mismatch_count=sum(1 for row in incentives if row["status"] in INCENTIVE_MISMATCH_STATUSES),
            frozen_count=sum(1 for row in incentives if row["status"] == INCENTIVE_FROZEN),
            facts=incentive_facts(incentives, currency),
        ),
        area_status(
            # budgets read only after the month ended are shown, labelled, but not judged: the month's own
            # budgets are not known
            BUDGET, unavailable_reason=reasons[BUDGET.key],
            has_rows=bool(budget_summary.get("customer_count")) and not budget_summary.get("budgets_read_after_month"),
            no_data_reason=(budget_not_judged(bill_cycle, budget_summary["budget_snapshot_date"])
                            if budget_summary.get("budgets_read_after_month") else budget_no_data(bill_cycle)),
            finding_groups=groups_of(BUDGET), facts=budget_facts(budget_summary),
            limit_count=budget_summary.get("over_100_count") or 0,
            watch_count=budget_summary.get("watch_count") or 0,
        ),
        area_status(
            COUPON, unavailable_reason=reasons[COUPON.key], has_rows=True,
            no_data_reason="no data", finding_groups=groups_of(COUPON),
            facts=coupon_facts(coupon_summary, bill_cycle, currency),
        ),
    ]
    return ReconciliationData(
        bill_cycle=bill_cycle,
        currency=currency,
        api_configured=api_configured,
        present_tables=present,
        customer_names=customer_names(con, bill_cycle, present),
        service_names=service_names(con, present),
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
