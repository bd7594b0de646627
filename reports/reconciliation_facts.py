"""The short lines the month-close pack prints under each reconciliation area's status."""

from __future__ import annotations

from typing import Any

from reports.formatting import CURRENCY, format_amount, format_counted, money_sum
from reports.reconciliation_areas import INCENTIVE_COMPARED_STATUSES, INCENTIVE_FROZEN, MATCHED
from reports.reconciliation_reader import EXPIRY_WINDOW_DAYS


def tieout_facts(partner: list[dict[str, Any]], by_status: list[dict[str, Any]]) -> list[str]:
    facts = []
    if partner:
        matched = sum(1 for row in partner if row["status"] == MATCHED)
        facts.append(f"Partner bill: {matched} of {format_counted(len(partner), 'component')} matched")
    if by_status:
        total = sum(row["customer_count"] for row in by_status)
        matched = sum(row["customer_count"] for row in by_status if row["status"] == MATCHED)
        facts.append(f"Customers: {matched:,} of {total:,} matched")
    return facts


def discount_facts(groups: list[dict[str, Any]], api_configured: bool | None) -> list[str]:
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


def incentive_facts(rows: list[dict[str, Any]], currency: str = CURRENCY) -> list[str]:
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
             f"Expected {format_amount(expected, currency)}", f"Statement {format_amount(statement, currency)}"]
    return facts


def budget_facts(summary: dict[str, Any]) -> list[str]:
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


def coupon_facts(summary: dict[str, Any], bill_cycle: str, currency: str = CURRENCY) -> list[str]:
    if not summary:
        return []
    if not summary["coupon_count"]:
        return ["No coupons"]
    facts = [f"{format_counted(summary['coupon_count'], 'coupon')}, "
             f"{summary['expiring_count']:,} expiring within {EXPIRY_WINDOW_DAYS} days",
             f"Balance expiring {format_amount(summary['expiring_balance'], currency)}"]
    if summary.get("read_after_cycle"):
        facts.append(coupons_as_read_note(summary, bill_cycle))
    return facts


def coupons_as_read_note(summary: dict[str, Any], bill_cycle: str) -> str:
    """Why a closed month's pack shows later coupon balances, and from which day its days left count."""
    return (f"As read on {summary['snapshot_date']}, after {bill_cycle} ended (the BSS API keeps only "
            f"current balances); days left count from {summary['as_of_date']}")
