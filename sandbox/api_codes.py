"""Codes, constants and value conversions of the BSS partner API's records (sandbox/api_data.py):
the field values the official SDK's response models carry, the random streams of the API's datasets,
and how times, amounts and IDs are written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

Record = dict[str, Any]

CURRENCY = "USD"
MONEY_MEASURE_ID = 1            # every v2 amount is in major units of the currency (docs/domain.md)
RESALE_ASSOCIATION = "3"        # intl association_type of a resale customer; the cn site says "2"
PARTNER_TAX_RATE = Decimal("0.07")  # output tax (VAT) of the partner's registration area, outside amount due

# Coupon types and statuses of the coupon APIs (docs/domain.md#coupons-and-vouchers).
COUPON_TYPE_VOUCHER, COUPON_TYPE_CASH = 1, 4
COUPON_INACTIVE, COUPON_USABLE, COUPON_USED, COUPON_EXPIRED = 1, 2, 3, 4
# Bill-line column paid by each coupon type.
COUPON_COLUMN = {COUPON_TYPE_CASH: "cash_coupon_amount", COUPON_TYPE_VOUCHER: "voucher_amount"}

ORDER_TYPE_CODES = {"New": 1, "Renew": 2, "Change": 3, "Unsubscribe": 4}
ORDER_STATUS_COMPLETED = 5
ORDER_SOURCE_CUSTOMER = 1
PERIOD_TYPE_MONTH, PERIOD_TYPE_YEAR = 2, 3
CONTRACT_DISCOUNT_TYPE = "605"
ORDER_DISCOUNT_TYPE_COMMERCIAL = 2   # discount_type of ListOrderDiscounts for a commercial (605) discount

# File billing mode (docs/formats.md#billing-mode-codes) → API charge mode: 1 yearly/monthly,
# 3 pay-per-use, 10 RI, 11 savings plan.
CHARGE_MODE_OF_BILLING_MODE = {0: "1", 1: "3", 2: "10", 3: "10", 4: "11", 5: "11", 6: "11"}
# Bill type of the file → bill_type of the customer monthly sums (0 consumption, 1 unsubscribe, 2 HUAWEI write-off).
BILL_TYPE_CODES = {"Expenditure": "0", "Refund": "1", "Adjustment": "2"}
# Payment column of a bill line → balance_type of the monthly sums' account_details.
BALANCE_TYPE_OF_COLUMN = (
    ("cash_amount", "BALANCE_TYPE_DEBIT"),
    ("credit_amount", "BALANCE_TYPE_CREDIT"),
    ("voucher_amount", "BALANCE_TYPE_COUPON"),
    ("cash_coupon_amount", "BALANCE_TYPE_RCASH_COUPON"),
    ("stored_card_amount", "BALANCE_TYPE_STORED_VALUE_CARD"),
)
COUPON_PAID_COLUMNS = ("cash_coupon_amount", "voucher_amount", "stored_card_amount")

# Charging modes (ListBusinessDiscountInfo) under which the commercial discount is quoted.
COMMERCIAL_CHARGING_MODES = ("ONDEMAND", "MONTHLY", "1_YEARLY")
SITE_CODE = "HWC_HK"

SERVICE_ABBREVIATIONS = {
    "hws.service.type.ec2": "ECS", "hws.service.type.ebs": "EVS", "hws.service.type.obs": "OBS",
    "hws.service.type.rds": "RDS", "hws.service.type.elb": "ELB", "hws.service.type.vpc": "VPC",
    "hws.service.type.cdn": "CDN", "hws.service.type.cce": "CCE", "hws.service.type.dcs": "DCS",
    "hws.service.type.sp": "SP",
}

# Telephone country prefixes of the customers' home regions.
COUNTRY_CODE_OF_REGION = {
    "ap-southeast-1": "00852", "ap-southeast-3": "0065", "ap-southeast-2": "0066", "ap-southeast-4": "0062",
    "af-south-1": "0027", "la-south-2": "0056", "la-north-2": "0052", "sa-brazil-1": "0055",
    "tr-west-1": "0090", "me-east-1": "00966",
}

# Measurement units (GET /v2/bases/measurements): (measure_id, name, abbreviation, measure_type).
# IDs 1–3, 10, 11, 14, 15 and 17 are HUAWEI CLOUD's documented ones; the hour's ID is synthetic.
MEASURE_UNITS: tuple[tuple[int, str, str, int], ...] = (
    (1, "Yuan", "USD", 1),
    (2, "Jiao", "0.1 USD", 1),
    (3, "Fen", "0.01 USD", 1),
    (4, "Hour", "h", 2),
    (10, "GB", "GB", 3),
    (11, "MB", "MB", 3),
    (14, "Count", "count", 4),
    (15, "Mbps", "Mbit/s", 16),
    (17, "GB", "GB", 7),
)

# Random streams of the API's datasets (the world uses 1–6 and 101–103, the anomalies 301).
CUSTOMER_STREAM, RESELLER_STREAM, BUDGET_STREAM, COUPON_STREAM, ORDER_STREAM = 201, 202, 203, 204, 205

EIGHT_PLACES = Decimal("1e-8")
CENT = Decimal("0.01")
_GMT8 = dt.timedelta(hours=8)
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_text(local: dt.datetime) -> str:
    """GMT+8 wall-clock time → the API's UTC text."""
    return (local - _GMT8).strftime(UTC_FORMAT)


def local_time_of(file_time: str) -> dt.datetime:
    """A file time string ('2026-10-28 09:00:00 GMT+08:00') → naive GMT+8 datetime."""
    return dt.datetime.strptime(file_time[:19], "%Y-%m-%d %H:%M:%S")


def coupon_status(valid_time: str, expire_time: str, balance: Decimal, as_of_utc: str) -> int:
    """A coupon's status at `as_of_utc` from its validity (UTC texts compare like the times they
    name) and balance."""
    if expire_time <= as_of_utc:
        return COUPON_EXPIRED
    if valid_time > as_of_utc:
        return COUPON_INACTIVE
    return COUPON_USABLE if balance > 0 else COUPON_USED


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def round_up(amount: Decimal, step: int) -> Decimal:
    """`amount` rounded up to a multiple of `step`."""
    return (amount / step).to_integral_value(rounding=ROUND_CEILING) * step


def stable_id(prefix: str, *parts: object, length: int = 16) -> str:
    """An ID derived from its parts, so the same world always names a record the same way."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return prefix + digest[:length]


def as_decimal(value: Any) -> Decimal:
    """None (a sum over nothing) as 0."""
    return Decimal(0) if value is None else Decimal(value)


def money_text(amount: Decimal) -> str:
    """An amount as the API writes amounts in strings: at least 2 and at most 8 decimals."""
    text = format(amount.quantize(EIGHT_PLACES, rounding=ROUND_HALF_UP), "f").rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"
