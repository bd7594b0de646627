"""pandera models of customer budgets and coupons from the BSS API
(docs/domain.md#budgets, docs/domain.md#coupons-and-vouchers)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.api_common import UTC_TIME, CustomerScoped, InMajorUnits, SnapshotRecord
from schemas.money import MONEY

BUDGET_TYPES = ["MONTHLY", "PACKAGE"]          # PACKAGE = one-time budget, never reset
COUPON_TYPES = [1, 2, 3, 4]                    # voucher, discount coupon, product coupon, cash coupon
COUPON_STATUSES = [1, 2, 3, 4, 5]              # inactive, usable, used, expired, reclaimed


class ApiBudgetModel(SnapshotRecord, InMajorUnits, CustomerScoped):
    """staging.api_budget: one customer's budget per snapshot date."""

    budget_type: str = pa.Field(nullable=True, isin=BUDGET_TYPES)
    budget_amount: MONEY = pa.Field(nullable=False)
    used_amount: MONEY = pa.Field(nullable=True)
    currency: str = pa.Field(nullable=True)


class CouponRecord(SnapshotRecord, InMajorUnits):
    """What a customer's coupon and a coupon the partner or a reseller issued both say, per snapshot date."""

    coupon_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    customer_id: str = pa.Field(nullable=True)
    indirect_partner_id: str = pa.Field(nullable=True)
    coupon_type: pl.Int64 = pa.Field(nullable=False, isin=COUPON_TYPES)
    status: pl.Int64 = pa.Field(nullable=False, isin=COUPON_STATUSES)
    face_value: MONEY = pa.Field(nullable=False)
    balance: MONEY = pa.Field(nullable=True)
    expire_time: UTC_TIME = pa.Field(nullable=True)
    active_time: UTC_TIME = pa.Field(nullable=True)
    create_time: UTC_TIME = pa.Field(nullable=True)
    promotion_plan_id: str = pa.Field(nullable=True)
    fetch_method: pl.Int64 = pa.Field(nullable=True)
    order_id: str = pa.Field(nullable=True)
    is_frozen: pl.Boolean = pa.Field(nullable=True)


class ApiCouponModel(CouponRecord):
    """staging.api_coupon: one coupon held by a customer, per snapshot date."""

    coupon_code: str = pa.Field(nullable=True)
    currency: str = pa.Field(nullable=True)
    coupon_version: pl.Int64 = pa.Field(nullable=True)
    valid_time: UTC_TIME = pa.Field(nullable=True)
    source_id: str = pa.Field(nullable=True)
    plan_name: str = pa.Field(nullable=True)


class ApiPartnerCouponModel(CouponRecord):
    """staging.api_partner_coupon: one coupon issued by the partner or a reseller, per snapshot date."""

    effective_time: UTC_TIME = pa.Field(nullable=True)
    last_used_time: UTC_TIME = pa.Field(nullable=True)
    promotion_plan_name: str = pa.Field(nullable=True)
