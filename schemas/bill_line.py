"""pandera models of the partner bill line (docs/formats.md#the-partner-bill-file), checked on eager polars frames.

`BillLineModel` holds the structural rules (a failure quarantines the row); `BillLineIdentities`
holds HUAWEI CLOUD's arithmetic (a failure is a finding; the row stays loaded).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.aliases import BILL_TYPE_VALUES, ORDER_TYPE_VALUES, PERIOD_UNIT_VALUES
from schemas.bill_cycle import CYCLE_FORMAT, CYCLE_PATTERN
from schemas.money import MONEY, MONEY_SUM
from schemas.rules import TRADE_TIME_TOLERANCE_DAYS

# Identities hold to 1e-8 per line (docs/formats.md#line-identities-and-signs); sums of 8-place
# decimals are exact, so equality.
_ZERO = pl.lit(0, dtype=MONEY)


def _money(name: str) -> pl.Expr:
    return pl.col(name).fill_null(_ZERO)


class BillLineModel(pa.DataFrameModel):
    """Structural rules of one bill line: required values, code lists, the file's month."""

    bill_cycle: str = pa.Field(nullable=False, str_matches=CYCLE_PATTERN)
    customer_id: str = pa.Field(nullable=False, str_length={"max_value": 64})
    bill_type: str = pa.Field(nullable=False, isin=sorted(set(BILL_TYPE_VALUES.values())))
    billing_mode: pl.Int16 = pa.Field(nullable=False, isin=[0, 1, 2, 3, 4, 5, 6])
    service_type_code: str = pa.Field(nullable=False, str_length={"max_value": 64})
    trade_id: str = pa.Field(nullable=False)
    trade_time: pl.Datetime(time_zone="UTC") = pa.Field(nullable=False)
    order_type: str = pa.Field(nullable=True, isin=sorted(set(ORDER_TYPE_VALUES.values())))
    period_unit: str = pa.Field(nullable=True, isin=sorted(set(PERIOD_UNIT_VALUES.values())))
    is_spot: str = pa.Field(nullable=True, isin=["Y", "N"])
    official_amount: MONEY = pa.Field(nullable=False)
    discount_amount: MONEY = pa.Field(nullable=False)
    amount_due: MONEY = pa.Field(nullable=False)
    source_bill_cycle: str = pa.Field(nullable=False)

    @pa.dataframe_check(name="BILL.CYCLE_MISMATCH")
    def bill_cycle_matches_file(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("bill_cycle") == pl.col("source_bill_cycle"))

    class Config:
        strict = False  # lineage and extra columns travel with the frame
        coerce = False  # the parser already typed every column


class BillLineIdentities(pa.DataFrameModel):
    """HUAWEI CLOUD's line identities and sign rules (docs/formats.md#line-identities-and-signs)."""

    @pa.dataframe_check(name="BILL.AMOUNT_DUE_IDENTITY")
    def amount_due_identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(amount_due_gap() == _ZERO)

    @pa.dataframe_check(name="BILL.PAYMENT_IDENTITY")
    def payment_identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(payment_gap() == _ZERO)

    @pa.dataframe_check(name="BILL.REFUND_SIGN")
    def refund_amounts_not_positive(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("bill_type") != "Refund") | (max_amount() <= _ZERO))

    @pa.dataframe_check(name="BILL.REFUND_WITHOUT_ORDER")
    def refund_has_original_order(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("bill_type") != "Refund") | pl.col("original_order_id").is_not_null())

    @pa.dataframe_check(name="BILL.TRADE_TIME_OUTSIDE_CYCLE")
    def trade_time_near_bill_month(cls, data: pa.PolarsData) -> pl.LazyFrame:
        earliest, latest = trade_date_window()
        return data.lazyframe.select(pl.col("trade_date_local").is_between(earliest, latest))

    @pa.dataframe_check(name="BILL.EXPENDITURE_SIGN")
    def expenditure_amounts_not_negative(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("bill_type") != "Expenditure") | (min_amount() >= _ZERO))

    class Config:
        strict = False


def amount_due_expected() -> pl.Expr:
    return _money("official_amount") - _money("discount_amount") - _money("truncated_amount")


def amount_due_gap() -> pl.Expr:
    return _money("amount_due") - amount_due_expected()


PAYMENT_COMPONENTS = (
    "cash_amount", "credit_amount", "cash_coupon_amount", "voucher_amount",
    "stored_card_amount", "debt_amount", "writeoff_amount",
)


def payment_total() -> pl.Expr:
    return pl.sum_horizontal([_money(c) for c in PAYMENT_COMPONENTS]).cast(MONEY_SUM)


def payment_gap() -> pl.Expr:
    return _money("amount_due") - payment_total()


_SIGNED_AMOUNTS = ("official_amount", "discount_amount", "amount_due")


def max_amount() -> pl.Expr:
    return pl.max_horizontal([_money(c) for c in _SIGNED_AMOUNTS])


def min_amount() -> pl.Expr:
    return pl.min_horizontal([_money(c) for c in _SIGNED_AMOUNTS])


def trade_date_window() -> tuple[pl.Expr, pl.Expr]:
    """(earliest, latest) local trade date a line of its `bill_cycle` may have, both inclusive."""
    first_day = pl.col("bill_cycle").str.to_date(CYCLE_FORMAT)  # a month reads as its first day
    tolerance = f"{TRADE_TIME_TOLERANCE_DAYS}d"
    return (first_day.dt.offset_by(f"-{tolerance}"),
            first_day.dt.offset_by("1mo").dt.offset_by(tolerance))
