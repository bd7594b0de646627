"""pandera model of the partner's customer discount agreements (FORMATS.md §4)."""

from __future__ import annotations

import polars as pl
import pandera.polars as pa

RATE = pl.Decimal(9, 6)


class CustomerDiscountModel(pa.DataFrameModel):
    customer_id: str = pa.Field(nullable=False, str_length={"max_value": 64})
    service_type_code: str = pa.Field(nullable=False)
    resource_type_code: str = pa.Field(nullable=False)
    discount_rate: RATE = pa.Field(nullable=False)
    valid_from: pl.Date = pa.Field(nullable=False)
    valid_to: pl.Date = pa.Field(nullable=True)

    @pa.dataframe_check(name="AGREEMENT.RATE_RANGE")
    def rate_between_zero_and_one(cls, data: pa.PolarsData) -> pl.LazyFrame:
        rate = pl.col("discount_rate")
        return data.lazyframe.select((rate >= pl.lit(0, RATE)) & (rate <= pl.lit(1, RATE)))

    @pa.dataframe_check(name="AGREEMENT.DATE_ORDER")
    def valid_to_not_before_valid_from(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("valid_to").is_null() | (pl.col("valid_to") >= pl.col("valid_from")))

    class Config:
        strict = False
        coerce = False
