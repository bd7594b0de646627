"""Monthly incentive statements (docs/formats.md#incentive-statement): what HUAWEI CLOUD's partner
programme says it pays the partner for a closed month, computed exactly as the contract of
docs/reconciliation.md says.

For each service whose incentive policy earns (0, 1 or 13) and that has eligible lines in the
month, one partner-level line (Customer ID empty) of the `Monthly rebate`:
- performance = Σ over resale customers' Expenditure and Refund lines of the service of
  (amount_due − cash coupon − voucher − stored-value card); every customer of the bill file is a
  resale customer;
- rate = agreements/incentive_rates.csv for the service's policy, valid on the month's first day;
- incentive = round_half_up(performance × rate, 2).
Services of policy 2 earn nothing and have no line; neither has a service without lines.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from .formats import INCENTIVE_STATEMENT_COLUMNS
from .months import date_of, month_start

MONTHLY_REBATE = "Monthly rebate"
EARNING_POLICIES = frozenset({0, 1, 13})
STATUS_CONFIRMED, STATUS_PAID = "Confirmed", "Paid"
ELIGIBLE_BILL_TYPES = ("Expenditure", "Refund")

_CENT = Decimal("0.01")
STATEMENT_SCHEMA = {
    "statement_id": pl.String,
    "period": pl.String,
    "incentive_type": pl.String,
    "service_type_code": pl.String,
    "customer_id": pl.String,
    "performance_amount": pl.Decimal(20, 8),
    "incentive_rate": pl.Decimal(9, 4),
    "incentive_amount": pl.Decimal(20, 2),
    "status": pl.String,
}
assert tuple(STATEMENT_SCHEMA) == INCENTIVE_STATEMENT_COLUMNS


def incentive_of(performance: Decimal, rate: Decimal) -> Decimal:
    """The incentive earned on `performance` at `rate`, rounded half-up to the cent."""
    return (performance * rate).quantize(_CENT, rounding=ROUND_HALF_UP)


def statement_id(period: str, sequence: int) -> str:
    """ID of the `sequence`-th line (from 1) of a period's statement."""
    return f"IS{period.replace('-', '')}{sequence:04d}"


def eligible_performance(lines: pl.DataFrame, policy_of: dict[str, int]) -> dict[str, Decimal]:
    """Eligible performance per service with an earning policy and at least one eligible line."""
    earning = [code for code, policy in policy_of.items() if policy in EARNING_POLICIES]
    eligible = lines.filter(pl.col("bill_type").is_in(ELIGIBLE_BILL_TYPES) & pl.col("service_type_code").is_in(earning))
    sums = eligible.group_by("service_type_code").agg(
        (pl.col("amount_due") - pl.col("cash_coupon_amount") - pl.col("voucher_amount")
         - pl.col("stored_card_amount")).sum().alias("performance"))
    return {code: Decimal(value) for code, value in sums.iter_rows()}


def rate_on(rates: pl.DataFrame, incentive_type: str, policy: int, day: dt.date) -> Decimal:
    """The rate of `incentive_type` for `policy` valid on `day` (0 when no rate is agreed)."""
    valid = rates.filter((pl.col("incentive_type") == incentive_type) & (pl.col("policy_code") == policy)
                         & (pl.col("valid_from") <= day)
                         & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= day)))
    return Decimal(valid["rate"][0]) if valid.height else Decimal(0)


def statement_status(period: str, closed_months: list[str]) -> str:
    """The newest closed month's statement is confirmed and awaits payment; older ones are paid."""
    return STATUS_CONFIRMED if period == closed_months[-1] else STATUS_PAID


def build_statement(period: str, lines: pl.DataFrame, services: pl.DataFrame, rates: pl.DataFrame,
                    status: str) -> pl.DataFrame:
    """The incentive statement of `period` computed from that month's bill lines."""
    policy_of = dict(zip(services["service_type_code"].to_list(), services["incentive_policy"].to_list()))
    first_day = date_of(month_start(period))
    rows = []
    for code, performance in sorted(eligible_performance(lines, policy_of).items()):
        rate = rate_on(rates, MONTHLY_REBATE, policy_of[code], first_day)
        rows.append(statement_row(period, len(rows) + 1, code, performance, rate, incentive_of(performance, rate),
                                  status))
    return statement_frame(rows)


def statement_row(period: str, sequence: int, service_type_code: str, performance: Decimal, rate: Decimal,
                  incentive: Decimal, status: str) -> dict:
    """One partner-level Monthly rebate line."""
    return {
        "statement_id": statement_id(period, sequence),
        "period": period,
        "incentive_type": MONTHLY_REBATE,
        "service_type_code": service_type_code,
        "customer_id": None,
        "performance_amount": performance,
        "incentive_rate": rate,
        "incentive_amount": incentive,
        "status": status,
    }


def statement_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=STATEMENT_SCHEMA, orient="row") if rows else \
        pl.DataFrame(schema=STATEMENT_SCHEMA)
