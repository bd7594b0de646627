"""pandera models of incentive policies and the partner's commercial discount (docs/domain.md#incentives)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.api_common import UTC_TIME, ApiRecord, CycleRecord
from schemas.checks import rule_check
from schemas.money import MONEY

QUOTING_ITEM_TYPES = ["CATEGORY_ITEM", "PRODUCT_ITEM"]


class ApiIncentivePolicyModel(CycleRecord):
    """staging.api_incentive_policy: a service type's policy at the end of the cycle (23:59:59 GMT+8).

    incentive_policy codes (0 non-specific, 1 specific, 2 no performance and no rebate, 13 performance
    counted without rebate) are not limited to the known ones: an unknown code is loaded as delivered."""

    service_type_code: str = pa.Field(nullable=False, str_length={"min_value": 1})
    service_type_name: str = pa.Field(nullable=True)
    incentive_policy: pl.Int64 = pa.Field(nullable=True)
    allow_discount: pl.Boolean = pa.Field(nullable=True)


class ApiBusinessDiscountModel(ApiRecord):
    """staging.api_business_discount: one quoting item of the framework commercial discount (latest pull).

    discount_ratio is the share of the list price paid (0.9 = 10 % off), as HUAWEI CLOUD quotes it."""

    commerce_id: str = pa.Field(nullable=True)
    commerce_code: str = pa.Field(nullable=True)
    quoting_item_type: str = pa.Field(nullable=False, isin=QUOTING_ITEM_TYPES)
    item_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    service_type_code: str = pa.Field(nullable=True)
    service_type_name: str = pa.Field(nullable=True)
    resource_type_code: str = pa.Field(nullable=True)
    product_id: str = pa.Field(nullable=True)
    product_spec_name: str = pa.Field(nullable=True)
    charging_mode: str = pa.Field(nullable=True)
    site_code: str = pa.Field(nullable=True)
    region_code: str = pa.Field(nullable=True)
    discount_ratio: MONEY = pa.Field(nullable=True)
    sales_price: MONEY = pa.Field(nullable=True)
    effective_time: UTC_TIME = pa.Field(nullable=True)
    expire_time: UTC_TIME = pa.Field(nullable=True)

    # a ratio outside 0..1 is no value the API defines: an enumeration's failure
    @rule_check("API.ENUM")
    def ratio_between_zero_and_one(cls, data: pa.PolarsData) -> pl.LazyFrame:
        ratio = pl.col("discount_ratio")
        return data.lazyframe.select(ratio.is_null() | ((ratio >= pl.lit(0, MONEY)) & (ratio <= pl.lit(1, MONEY))))
