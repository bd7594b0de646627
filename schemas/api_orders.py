"""pandera models of yearly/monthly orders and their discounts from the BSS API (docs/domain.md#discount-types)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.api_common import UTC_TIME, CycleRecord, InMajorUnits
from schemas.money import MONEY


class ApiOrderModel(CycleRecord, InMajorUnits):
    """staging.api_order: one order paid in the cycle (a combined order's children carry parent_order_id).

    Not a CustomerScoped model: a base's columns come first, and a record missing both its order id
    and its customer is quarantined for the order id, as the first failure in column order."""

    order_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    parent_order_id: str = pa.Field(nullable=True)
    customer_id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 64})
    indirect_partner_id: str = pa.Field(nullable=True)
    service_type_code: str = pa.Field(nullable=True)
    service_type_name: str = pa.Field(nullable=True)
    source_type: pl.Int64 = pa.Field(nullable=True)
    status: pl.Int64 = pa.Field(nullable=True)
    order_type: pl.Int64 = pa.Field(nullable=True)
    official_amount: MONEY = pa.Field(nullable=False)
    amount_after_discount: MONEY = pa.Field(nullable=False)
    discount_amount: MONEY = pa.Field(nullable=False)
    voucher_amount: MONEY = pa.Field(nullable=True)
    cash_coupon_amount: MONEY = pa.Field(nullable=True)
    stored_card_amount: MONEY = pa.Field(nullable=True)
    commission_amount: MONEY = pa.Field(nullable=True)
    consumed_amount: MONEY = pa.Field(nullable=True)
    discount_types: str = pa.Field(nullable=True)
    currency: str = pa.Field(nullable=True)
    create_time: UTC_TIME = pa.Field(nullable=True)
    payment_time: UTC_TIME = pa.Field(nullable=True)
    contract_id: str = pa.Field(nullable=True)
    is_agent_pay: pl.Boolean = pa.Field(nullable=True)
    paying_agent_id: str = pa.Field(nullable=True)


class ApiOrderDiscountModel(CycleRecord):
    """staging.api_order_discount: one discount entry of an order (amount_info.discounts)."""

    order_id: str = pa.Field(nullable=False)
    customer_id: str = pa.Field(nullable=True)
    discount_seq: pl.Int64 = pa.Field(nullable=False)
    discount_type: str = pa.Field(nullable=False, str_matches=r"^\d{1,6}$")
    discount_amount: MONEY = pa.Field(nullable=False)
