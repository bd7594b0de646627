"""pandera model of the partner's customer discount agreements (docs/formats.md#customer-discounts)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.checks import ValidityWindow, rate_in_unit_interval
from schemas.money import RATE


class CustomerDiscountModel(ValidityWindow):
    customer_id: str = pa.Field(nullable=False, str_length={"max_value": 64})
    service_type_code: str = pa.Field(nullable=False)
    resource_type_code: str = pa.Field(nullable=False)
    discount_rate: RATE = pa.Field(nullable=False)

    @pa.dataframe_check(name="AGREEMENT.RATE_RANGE")
    def rate_between_zero_and_one(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(rate_in_unit_interval("discount_rate"))
