"""pandera model of the daily customer usage export (docs/formats.md#daily-usage-exports): structural rules only.

Usage exports are indicative (month-to-date views, budgets), so no identities are audited on them.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.bill_cycle import CYCLE_PATTERN
from schemas.money import MONEY


class UsageLineModel(pa.DataFrameModel):
    bill_cycle: str = pa.Field(nullable=False, str_matches=CYCLE_PATTERN)
    customer_id: str = pa.Field(nullable=False, str_length={"max_value": 64})
    billing_mode: pl.Int16 = pa.Field(nullable=False, isin=[0, 1, 2, 3, 4, 5, 6])
    service_type_code: str = pa.Field(nullable=False)
    trade_time: pl.Datetime(time_zone="UTC") = pa.Field(nullable=False)
    official_amount: MONEY = pa.Field(nullable=False)
    discount_amount: MONEY = pa.Field(nullable=False)
    amount_due: MONEY = pa.Field(nullable=False)
    source_bill_cycle: str = pa.Field(nullable=False)

    @pa.dataframe_check(name="BILL.CYCLE_MISMATCH")
    def bill_cycle_matches_file(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("bill_cycle") == pl.col("source_bill_cycle"))

    class Config:
        strict = False
        coerce = False
