"""What the BSS partner API knows about the synthetic world: the records the emulator
(`sandbox.bss`) serves, derived from a generated `World` so that every amount agrees with the
world's bill files to the last of its 8 decimals.

Each dataset has one builder that returns plain records: dicts keyed by the field names of the
official SDK response models (docs/domain.md#the-bss-partner-api-routes-used), money as `Decimal`
with at most 8 places, times as UTC text `yyyy-MM-ddTHH:mm:ssZ`. A builder runs on first use and
keeps its result, so a test (or a later step that plants anomalies) can change a record in place,
add or remove records, and the emulator serves exactly that.

The API's "now" is `ApiData.as_of`: the cut-off of the newest usage export of the open month
(00:00 GMT+8 of its export date; the start of the open month when there is none). Orders, coupon
balances and budget spend include what the world's files show up to then and nothing after.

Random choices that the world does not make (budget sizes, coupon face values, contact details…)
come from generators seeded with [seed, stream] on streams of their own (201+), so the world's
files are byte for byte what they were without this module.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .catalog import RESOURCE_TYPES, SERVICES, SUBSCRIPTION_OFFERS, USAGE_OFFERS
from .formats import TIME_FORMAT
from .months import add_months, date_of, month_start

if TYPE_CHECKING:
    from .world import World

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

# Random streams of this module (the world uses 1–6 and 101–103).
_CUSTOMER_STREAM, _RESELLER_STREAM, _BUDGET_STREAM, _COUPON_STREAM, _ORDER_STREAM = 201, 202, 203, 204, 205

_EIGHT_PLACES = Decimal("1e-8")
_CENT = Decimal("0.01")
_GMT8 = dt.timedelta(hours=8)
_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_ORDER_TYPES = tuple(ORDER_TYPE_CODES)


# ----------------------------------------------------------------------------------------- helpers

def utc_text(local: dt.datetime) -> str:
    """GMT+8 wall-clock time → the API's UTC text."""
    return (local - _GMT8).strftime(_UTC_FORMAT)


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
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def _round_up(amount: Decimal, step: int) -> Decimal:
    return (amount / step).to_integral_value(rounding=ROUND_CEILING) * step


def _stable_id(prefix: str, *parts: object, length: int = 16) -> str:
    """An ID derived from its parts, so the same world always names a record the same way."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return prefix + digest[:length]


def _add_calendar_months(moment: dt.datetime, months: int) -> dt.datetime:
    month = add_months(moment.strftime("%Y-%m"), months)
    first = dt.datetime.combine(date_of(month_start(month)), moment.time())
    last_day = (date_of(month_start(add_months(month, 1))) - dt.timedelta(days=1)).day
    return first.replace(day=min(moment.day, last_day))


def _factor(uniform: float, low: float, high: float) -> Decimal:
    """A multiplier in [low, high) with three decimals, from a uniform draw in [0, 1)."""
    return Decimal(str(round(low + (high - low) * float(uniform), 3)))


def _money_sums(frame: pl.DataFrame, keys: list[str], columns: tuple[str, ...]) -> pl.DataFrame:
    return frame.group_by(keys).agg(pl.col(c).sum() for c in columns)


def _decimal(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


# ----------------------------------------------------------------------------------------- the data

class ApiData:
    """The BSS API's view of one world. Datasets are built on first use and kept.

    Scoping: a customer belongs to the distributor itself (`reseller_of[customer_id]` is None) or to
    one of its resellers (the reseller's `indirect_partner_id`); the emulator shows a reseller's
    customers only to requests naming that reseller, as the real API does.
    """

    def __init__(self, world: World):
        self.world = world
        self.seed = world.config.seed
        self.partner_id = world.partner_id
        self.partner_name = world.partner_name
        self.reseller_of: dict[str, str | None] = dict(zip(world.customers["customer_id"].to_list(),
                                                            world.customers["indirect_partner_id"].to_list()))
        self.account_name_of: dict[str, str] = dict(zip(world.customers["customer_id"].to_list(),
                                                         world.customers["account_name"].to_list()))
        self.reseller_ids: list[str] = world.resellers["reseller_id"].to_list()
        open_exports = sorted(date for month, date in world.usage_exports if month == world.open_month)
        self.newest_export: tuple[str, str] | None = (world.open_month, open_exports[-1]) if open_exports else None
        if self.newest_export:
            self.as_of = dt.datetime.strptime(self.newest_export[1], "%Y%m%d")
        else:
            self.as_of = dt.datetime.combine(date_of(month_start(world.open_month)), dt.time())
        self.as_of_file_time = self.as_of.strftime(TIME_FORMAT)
        self.world_begin = dt.datetime.combine(date_of(month_start(world.closed_months[0])), dt.time())
        self._partner_bills: dict[str, Record | None] = {}
        self._monthly_sums: dict[str, list[Record]] = {}
        self._bill_totals: dict[str, dict[str, Decimal]] = {}

    @property
    def as_of_utc(self) -> str:
        return utc_text(self.as_of)

    def prepare(self) -> ApiData:
        """Build every dataset now (otherwise each is built by the first request that needs it,
        which for a large world can take longer than a client's timeout)."""
        for name in ("customers", "resellers", "budgets", "coupons", "coupon_quotas", "orders",
                     "incentive_policies", "commercial_discounts", "consumption_quota", "invoices",
                     "service_types", "resource_types", "measure_units"):
            getattr(self, name)
        for month in self.world.closed_months:
            self.partner_bill(month)
            self.customer_monthly_sums(month)
        return self

    # ------------------------------------------------------------------------------ parties

    @functools.cached_property
    def customers(self) -> list[Record]:
        """Grain: resale customer (CustomerInformation of ListSubCustomers). Source: world.customers;
        contact details, level and the association time of day are drawn on a stream of their own."""
        rng = np.random.default_rng([self.seed, _CUSTOMER_STREAM])
        frame = self.world.customers
        count = frame.height
        seconds = rng.integers(9 * 3600, 19 * 3600, size=count)      # associated during office hours
        levels = rng.choice(["V0", "V1", "V2", "V3", "V4", "V5"], size=count, p=[.3, .3, .2, .1, .06, .04])
        frozen = rng.random(count) < 0.05
        phone_tail = rng.integers(1000, 10_000, size=count)
        manager = rng.integers(1, 6, size=count)
        records = []
        for i, row in enumerate(frame.iter_rows(named=True)):
            associated = dt.datetime.combine(row["associated_on"], dt.time()) + dt.timedelta(seconds=int(seconds[i]))
            records.append({
                "customer": row["customer_name"],
                "account_name": row["account_name"],
                "customer_id": row["customer_id"],
                "associated_on": utc_text(associated),
                "association_type": RESALE_ASSOCIATION,
                "label": "key-account" if levels[i] in ("V4", "V5") else "",
                "telephone": f"1*****{phone_tail[i]}",
                "verified_status": "2",
                "country_code": COUNTRY_CODE_OF_REGION.get(row["home_region_code"], "00852"),
                "customer_type": 1,
                "is_frozen": int(frozen[i]),
                "account_managers": [{"account_name": f"am_{manager[i]:02d}"}],
                "xaccount_id": f"sky-{i + 1:06d}",
                "xaccount_type": "skyline_IDP",
                "customer_level": str(levels[i]),
                "email": f"{row['account_name'][:2]}***@example.com",
            })
        return records

    @functools.cached_property
    def resellers(self) -> list[Record]:
        """Grain: reseller (IndirectPartnerInfo of ListIndirectPartners). Source: world.resellers;
        each reseller was associated before the first of its customers."""
        rng = np.random.default_rng([self.seed, _RESELLER_STREAM])
        first_customer = {}
        for customer in self.customers:
            owner = self.reseller_of[customer["customer_id"]]
            if owner is not None:
                first_customer[owner] = min(first_customer.get(owner, customer["associated_on"]),
                                            customer["associated_on"])
        records = []
        for i, row in enumerate(self.world.resellers.iter_rows(named=True)):
            earliest = first_customer.get(row["reseller_id"], utc_text(self.world_begin))
            associated = dt.datetime.strptime(earliest, _UTC_FORMAT) - dt.timedelta(
                days=int(rng.integers(20, 200)), seconds=int(rng.integers(0, 86_400)))
            records.append({
                "indirect_partner_id": row["reseller_id"],
                "mobile_phone": f"1*****{int(rng.integers(1000, 10_000))}",
                "email": f"{row['account_name'][:2]}***@example.com",
                "account_name": row["account_name"],
                "name": row["reseller_name"],
                "associated_on": associated.strftime(_UTC_FORMAT),
                "account_manager_id": _stable_id("", "manager", self.seed, i, length=32),
                "account_manager_name": f"am_{i + 1:02d}",
            })
        return records

    # ------------------------------------------------------------------------------ history of the lines

    @functools.cached_property
    def _history(self) -> dict[str, pl.DataFrame]:
        """One pass over every line up to `as_of` (closed months and the open month so far):
        coupon use and list-price spend per customer, and the bill lines of orders."""
        coupon_parts, spend_parts, order_parts = [], [], []
        order_columns = ("trade_id", "product_id", "spec_desc", "service_type_code", "service_type_name",
                         "resource_type_code", "discount_types", *COUPON_PAID_COLUMNS)
        months = [(m, self.world.bill_lines[m]) for m in self.world.closed_months]
        open_lines = self.world.month_lines.build(self.world.open_month)
        months.append((self.world.open_month, open_lines.filter(pl.col("trade_time") <= self.as_of_file_time)))
        for month, lines in months:
            for coupon_type, column in COUPON_COLUMN.items():
                used = lines.filter(pl.col(column) != 0)
                part = used.group_by("customer_id").agg(
                    pl.lit(coupon_type).alias("coupon_type"), pl.col(column).sum().alias("used"),
                    pl.col("trade_time").max().alias("last_used"))
                if month == self.world.open_month:
                    # Refunds in the open month give coupon money back before any bill file shows
                    # them; the month-close reconciliation compares the closed months' coupon use with
                    # face value − balance, so the open month never lowers the recorded use.
                    part = part.with_columns(pl.when(pl.col("used") < 0).then(pl.col("used") * 0)
                                             .otherwise(pl.col("used")).alias("used"))
                coupon_parts.append(part)
            if month != self.world.open_month:
                # List-price spend as the usage file counts it: adjustments are not consumption.
                spend_parts.append(lines.filter(pl.col("bill_type") != "Adjustment").group_by("customer_id").agg(
                    pl.col("official_amount").sum().alias("official"), pl.lit(month).alias("month")))
            order_parts.append(lines.filter(pl.col("order_type").is_in(_ORDER_TYPES)).select(order_columns))
        coupon_use = pl.concat(coupon_parts).group_by("customer_id", "coupon_type").agg(
            pl.col("used").sum(), pl.col("last_used").max())
        return {
            "coupon_use": coupon_use.sort("customer_id", "coupon_type"),
            "list_spend": pl.concat(spend_parts),
            "order_lines": pl.concat(order_parts),
        }

    @functools.cached_property
    def month_to_date_list_spend(self) -> dict[str, Decimal]:
        """Σ official_amount per customer in the newest usage export of the open month (what the
        console's budget estimate shows); empty when the open month has no export yet."""
        if self.newest_export is None:
            return {}
        export = self.world.usage_exports[self.newest_export]
        sums = export.group_by("customer_id").agg(pl.col("official_amount").sum())
        return {row["customer_id"]: row["official_amount"] for row in sums.iter_rows(named=True)}

    # ------------------------------------------------------------------------------ budgets

    @functools.cached_property
    def budgets(self) -> list[Record]:
        """Grain: customer (BudgetInfo of ListSubCustomerBudget). Every resale customer has a budget
        (customers stay frozen until one is set), sized as a partner would: a MONTHLY budget 5–40 %
        above the customer's list-price spend of the last closed month, or, for about a quarter of the
        customers, a tight one of 80–100 % of it (this month's pace will likely take them over: the
        forecast the reports show as amber); at least 100, rounded up to a round figure. No budget is
        used up: every budget exceeds both its used_amount and the customer's month-to-date spend, so
        BUDGET.OVER_NOT_FROZEN (docs/reconciliation.md) stays silent on a clean world.

        used_amount: MONTHLY budgets count the open month: Σ official_amount of the customer in the
        newest usage export. PACKAGE (one-time) budgets were set before the first closed month and
        count the closed months' Expenditure and Refund list prices plus the open month to date."""
        rng = np.random.default_rng([self.seed, _BUDGET_STREAM])
        spend = self._history["list_spend"]
        last_month = spend.filter(pl.col("month") == self.world.closed_months[-1])
        last_spend = dict(zip(last_month["customer_id"].to_list(), last_month["official"].to_list()))
        closed_spend = spend.group_by("customer_id").agg(pl.col("official").sum())
        all_closed = dict(zip(closed_spend["customer_id"].to_list(), closed_spend["official"].to_list()))
        month_to_date = self.month_to_date_list_spend
        records = []
        for customer_id in self.world.customers["customer_id"].to_list():
            roll, one_time_factor, monthly_factor, tight_factor = rng.random(), *rng.uniform(size=3)
            one_time = roll < 0.2
            used = _decimal(month_to_date.get(customer_id))
            if one_time:
                used += _decimal(all_closed.get(customer_id))
                amount = max(_round_up(used * _factor(one_time_factor, 1.05, 1.8), 10), Decimal(500))
            else:
                factor = _factor(tight_factor, 0.8, 1.0) if roll < 0.45 else _factor(monthly_factor, 1.05, 1.4)
                base = _decimal(last_spend.get(customer_id)) * factor
                amount = max(_round_up(base, 100 if base >= 1000 else 10), Decimal(100))
            # Headroom over what is spent so far, whatever the budget was sized from.
            headroom = max(used, _decimal(month_to_date.get(customer_id))) * Decimal("1.05")
            amount = max(amount, _round_up(headroom, 10)).quantize(_CENT)
            records.append({
                "customer_id": customer_id,
                "budget_amount": amount,
                "used_amount": used,
                "budget_type": "PACKAGE" if one_time else "MONTHLY",
            })
        return records

    # ------------------------------------------------------------------------------ coupons

    @functools.cached_property
    def coupons(self) -> list[Record]:
        """Grain: coupon held by a resale customer (IQueryUserCouponsResultV2 of ListSubCustomerCoupons).

        Consistent with the bill lines: for every customer and coupon type (cash coupon ↔
        cash_coupon_amount, voucher ↔ voucher_amount) whose lines up to `as_of` used coupons, one
        coupon carries all that use: face_value − balance = Σ that column over the customer's lines.
        Other coupons are unused (balance = face value): usable spares, expired and not yet active ones.
        `source_id` is the issuing partner (the distributor, or the customer's reseller) or None when
        HUAWEI CLOUD issued the coupon. Ground truth of the use: `coupon_usage`."""
        rng = np.random.default_rng([self.seed, _COUPON_STREAM])
        use = {(row["customer_id"], row["coupon_type"]): row
               for row in self._history["coupon_use"].iter_rows(named=True)}
        records: list[Record] = []
        self._coupon_usage: dict[str, Record] = {}
        for customer_id in self.world.customers["customer_id"].to_list():
            owner = self.reseller_of[customer_id] or self.partner_id
            plans = []
            for coupon_type in (COUPON_TYPE_CASH, COUPON_TYPE_VOUCHER):
                row = use.get((customer_id, coupon_type))
                if row is not None and row["used"] > 0:
                    plans.append(("used", coupon_type, row))
            roll = rng.random(3)
            if roll[0] < 0.3:
                plans.append(("spare", COUPON_TYPE_CASH, None))
            if roll[1] < 0.15:
                plans.append(("expired", COUPON_TYPE_VOUCHER, None))
            if roll[2] < 0.1:
                plans.append(("future", COUPON_TYPE_CASH, None))
            for kind, coupon_type, row in plans:
                records.append(self._coupon(rng, customer_id, owner, kind, coupon_type, row, len(records)))
        return records

    def _coupon(self, rng: np.random.Generator, customer_id: str, owner: str, kind: str, coupon_type: int,
                use: Record | None, serial: int) -> Record:
        used = _decimal(use["used"]) if use else Decimal(0)
        days = dt.timedelta(days=1)
        if kind == "used":
            valid = self.world_begin - days * int(rng.integers(5, 120))
            expire = self.as_of + days * int(rng.integers(5, 300))   # some expire within weeks
            face = max(_round_up(used * Decimal(str(round(float(rng.uniform(1.1, 2.5)), 2))), 10), Decimal(10))
        elif kind == "spare":
            valid = self.as_of - days * int(rng.integers(1, 60))
            expire = self.as_of + days * int(rng.integers(30, 365))
            face = Decimal(int(rng.integers(1, 21)) * 50)
        elif kind == "expired":
            valid = self.world_begin - days * int(rng.integers(200, 400))
            expire = self.as_of - days * int(rng.integers(1, 60))
            face = Decimal(int(rng.integers(1, 11)) * 20)
        else:  # "future": issued, active from a later date
            valid = self.as_of + days * int(rng.integers(3, 40))
            expire = valid + days * 180
            face = Decimal(int(rng.integers(1, 11)) * 100)
        balance = face - used
        status = coupon_status(utc_text(valid), utc_text(expire), balance, self.as_of_utc)
        partner_issued = kind != "used" or rng.random() < 0.7
        created = valid - dt.timedelta(hours=int(rng.integers(1, 72)))
        coupon_id = _stable_id("CP", self.seed, customer_id, kind, coupon_type, serial, length=18).upper()
        plan_id = _stable_id("PP", self.seed, owner if partner_issued else "HWC", coupon_type, length=12)
        plan_name = ("Partner cash coupon" if coupon_type == COUPON_TYPE_CASH else "Partner voucher") \
            if partner_issued else "HUAWEI CLOUD promotion voucher"
        self._coupon_usage[coupon_id] = {
            "used_amount": used,
            "last_used_time": utc_text(local_time_of(use["last_used"])) if use else None,
        }
        return {
            "coupon_id": coupon_id,
            "coupon_code": coupon_id[2:14],
            "status": status,
            "customer_id": customer_id,
            "coupon_type": coupon_type,
            "measure_id": MONEY_MEASURE_ID,
            "face_value": face,
            "valid_time": utc_text(valid),
            "expire_time": utc_text(expire),
            "order_id": None,
            "promotion_plan_id": plan_id,
            "plan_name": plan_name,
            "plan_desc": f"{plan_name} for all cloud services",
            "media_type": 1,
            "fetch_method": 3 if partner_issued else 5,
            "use_limits": [],
            "active_time": utc_text(valid),
            "reserve_time": None,
            "promotion_id": plan_id,
            "create_time": utc_text(created),
            "coupon_version": 2,
            "balance": balance,
            "lock_order_id": None,
            "coupon_usage": None,
            "is_frozen": "0",
            "currency": CURRENCY,
            "extend_param1": None,
            "source_id": owner if partner_issued else None,
        }

    @property
    def coupon_usage(self) -> dict[str, Record]:
        """Ground truth, not served: coupon_id → used_amount (Σ of the coupon's column on the
        customer's lines up to as_of) and last_used_time."""
        self.coupons  # noqa: B018 (built together with the coupons)
        return self._coupon_usage

    def partner_coupon_view(self, coupon: Record) -> Record:
        """A coupon as ListIssuedPartnerCoupons shows it (IQueryUserPartnerCouponsResultV2)."""
        usage = self.coupon_usage.get(coupon["coupon_id"], {})
        return {
            "coupon_id": coupon["coupon_id"],
            "status": coupon["status"],
            "customer_id": coupon["customer_id"],
            "coupon_type": coupon["coupon_type"],
            "measure_id": coupon["measure_id"],
            "face_value": coupon["face_value"],
            "effective_time": coupon["valid_time"],
            "expire_time": coupon["expire_time"],
            "order_id": coupon["order_id"],
            "promotion_plan_id": coupon["promotion_plan_id"],
            "promotion_plan_name": coupon["plan_name"],
            "promotion_plan_desc": coupon["plan_desc"],
            "media_type": coupon["media_type"],
            "fetch_method": coupon["fetch_method"],
            "use_limits": coupon["use_limits"],
            "active_time": coupon["active_time"],
            "last_used_time": usage.get("last_used_time"),
            "promotion_id": coupon["promotion_id"],
            "create_time": coupon["create_time"],
            "balance": coupon["balance"],
            "lock_order_id": coupon["lock_order_id"],
            "is_frozen": coupon["is_frozen"],
        }

    @functools.cached_property
    def coupon_quotas(self) -> list[Record]:
        """Grain: coupon quota of the distributor or of one reseller (CouponQuotaV2 of
        ListQuotaCoupons): one voucher quota (quota_type 0) and one cash-coupon quota (1) each.
        balance = quota_value − Σ face_value of the coupons that partner issued of that type.
        Ownership: `quota_owner`."""
        issued: dict[tuple[str, int], Decimal] = {}
        for coupon in self.coupons:
            if coupon["source_id"] is not None:
                key = (coupon["source_id"], coupon["coupon_type"])
                issued[key] = issued.get(key, Decimal(0)) + coupon["face_value"]
        records = []
        self._quota_owner: dict[str, str] = {}
        for owner in (self.partner_id, *self.reseller_ids):
            for quota_type, coupon_type in ((0, COUPON_TYPE_VOUCHER), (1, COUPON_TYPE_CASH)):
                used = issued.get((owner, coupon_type), Decimal(0))
                value = _round_up(used + 5000, 1000).quantize(_CENT)
                quota_id = _stable_id("QT", self.seed, owner, quota_type, length=20).upper()
                self._quota_owner[quota_id] = owner
                records.append({
                    "quota_id": quota_id,
                    "quota_type": quota_type,
                    "create_time": utc_text(self.world_begin - dt.timedelta(days=400)),
                    "last_update_time": utc_text(self.as_of - dt.timedelta(days=1)),
                    "quota_value": value,
                    "quota_status": 0,
                    "balance": value - used,
                    "measure_id": MONEY_MEASURE_ID,
                    "currency": CURRENCY,
                    "effective_time": utc_text(self.world_begin - dt.timedelta(days=400)),
                    "expire_time": utc_text(self.as_of + dt.timedelta(days=365)),
                    "limit_infos": [],
                })
        return records

    @property
    def quota_owner(self) -> dict[str, str]:
        """quota_id → the partner owning the quota (the distributor's partner_id or a reseller id)."""
        self.coupon_quotas  # noqa: B018 (built together with the quotas)
        return self._quota_owner

    # ------------------------------------------------------------------------------ orders

    @functools.cached_property
    def _order_book(self) -> tuple[list[Record], dict[str, list[Record]], dict[str, list[Record]]]:
        orders = self.world.orders.filter(pl.col("trade_time") <= self.as_of_file_time)
        joined = orders.join(self._history["order_lines"], left_on="order_id", right_on="trade_id", how="left")
        assert joined.height == orders.height, "an order ID appears on more than one bill line"
        assert joined["product_id"].null_count() == 0, "every order paid up to as_of has its bill line"
        rates = self._contract_rates()
        unit_of = dict(zip(orders["order_id"].to_list(), orders["period_unit"].to_list()))
        due_of = dict(zip(orders["order_id"].to_list(), orders["amount_due"].to_list()))
        rng = np.random.default_rng([self.seed, _ORDER_STREAM])
        create_lag = rng.integers(30, 1200, size=joined.height)
        records, line_items, discounts = [], {}, {}
        # Newest first, as the order list shows them by default.
        for i, row in enumerate(joined.sort("trade_time", "order_id", descending=True).iter_rows(named=True)):
            paid = local_time_of(row["trade_time"])
            order_type = ORDER_TYPE_CODES[row["order_type"]]
            is_refund = order_type == ORDER_TYPE_CODES["Unsubscribe"]
            created = paid if is_refund else paid - dt.timedelta(seconds=int(create_lag[i]))
            amount_info, contract_part, rate = self._order_amount_info(row, rates, due_of)
            if is_refund:
                # Unsubscribe orders show the refunded money as positive amounts, with
                # official_amount = amount_after_discount (docs/domain.md#amounts).
                after_discount = -row["amount_due"]
                official = after_discount
            else:
                after_discount, official = row["amount_due"], row["official_amount"]
            order = {
                "order_id": row["order_id"],
                "customer_id": row["customer_id"],
                "service_type_code": row["service_type_code"],
                "service_type_name": row["service_type_name"],
                "source_type": ORDER_SOURCE_CUSTOMER,
                "status": ORDER_STATUS_COMPLETED,
                "order_type": order_type,
                "amount_after_discount": after_discount,
                "official_amount": official,
                "measure_id": MONEY_MEASURE_ID,
                "create_time": utc_text(created),
                "payment_time": utc_text(paid),
                "currency": CURRENCY,
                "contract_id": None,
                "amount_info": amount_info,
                "enterprise_projects": [{"id": "0", "name": "default"}],
                "sub_order_infos": [],
                "agent_pay_info": {"paying_agent_id": None, "is_agent_pay": False},
            }
            records.append(order)
            item_id = f"{row['order_id']}-000001"
            unit = row["period_unit"] or unit_of.get(row["original_order_id"])
            expire = None
            if order_type in (ORDER_TYPE_CODES["New"], ORDER_TYPE_CODES["Renew"]):
                months = row["period_num"] * (12 if unit == "Year" else 1)
                expire = utc_text(_add_calendar_months(paid, months))
            product = {
                "product_id": row["product_id"],
                "product_spec_desc": row["spec_desc"],
                "category_code": row["resource_type_code"],
                "product_owner_service": order["service_type_code"],
                "commercial_resource": row["resource_type_code"],
            }
            line_items[row["order_id"]] = [{
                "order_line_item_id": item_id,
                "service_type_code": order["service_type_code"],
                "service_type_name": row["service_type_name"],
                "product_id": row["product_id"],
                "product_spec_desc": row["spec_desc"],
                "period_type": PERIOD_TYPE_YEAR if unit == "Year" else PERIOD_TYPE_MONTH,
                "period_num": row["period_num"],
                "effective_time": order["payment_time"],
                "expire_time": expire,
                "subscription_num": 1,
                "amount_after_discount": after_discount,
                "official_amount": official,
                "amount_info": amount_info,
                "currency": CURRENCY,
                "category_code": row["resource_type_code"],
                "product_owner_service": order["service_type_code"],
                "commercial_resource": row["resource_type_code"],
                "base_product_info": product,
                "order_id": row["order_id"],
            }]
            if contract_part > 0:
                pays = 1 - rate
                discounts[row["order_id"]] = [{
                    "discount_id": _stable_id("BD", self.seed, row["customer_id"], order["service_type_code"],
                                              length=20).upper(),
                    "discount_value": format(pays.normalize(), "f"),
                    "discount_type": ORDER_DISCOUNT_TYPE_COMMERCIAL,
                    "orders": [{"order_id": row["order_id"], "order_line_items": [{
                        "order_line_item_ids": [item_id], "discount_mode": 0,
                        "discount_amount": contract_part, "discount_ratio": pays,
                    }]}],
                }]
            else:
                discounts[row["order_id"]] = []
        return records, line_items, discounts

    @property
    def orders(self) -> list[Record]:
        """Grain: order paid up to as_of (CustomerOrderV2 of ListCustomerOrders), newest first.
        Source: world.orders joined to the order's bill line (product, discount types, coupons).
        amount_after_discount = the line's amount_due (coupons are a way of paying, not a discount);
        amount_info.discounts splits the line's discount into 605 (contract: floor(list price × the
        contract rate) to 8 places) and the promotion (200/700) rest. Unsubscribe orders carry the
        refund as positive amounts (official = after discount = −refund line amount_due)."""
        return self._order_book[0]

    def order(self, order_id: str) -> Record | None:
        """The order record with this ID (an index over `orders`, rebuilt when records are added
        or removed)."""
        orders = self.orders
        if getattr(self, "_order_index_size", None) != len(orders):
            self._order_index = {o["order_id"]: o for o in orders}
            self._order_index_size = len(orders)
        return self._order_index.get(order_id)

    @property
    def order_line_items(self) -> dict[str, list[Record]]:
        """order_id → OrderLineItemEntityV2 records (one per order: one resource per order)."""
        return self._order_book[1]

    @property
    def order_discounts(self) -> dict[str, list[Record]]:
        """order_id → DiscountInfoV3 records: only the commercial (605) contract discount, as the
        real API returns only contract and partner-granted discounts. discount_ratio and
        discount_value are the share of the list price paid (0.9 = 10 % off)."""
        return self._order_book[2]

    def _contract_rates(self) -> dict[tuple[str, str], Decimal]:
        """(customer_id or '*', service) → the 605 discount rate (share taken off, 0.10 = 10 %)."""
        table = self.world.contract_discounts
        return {(row["customer_id"], row["service_type_code"]): Decimal(row["discount_rate"])
                for row in table.iter_rows(named=True)}

    def _order_amount_info(self, row: Record, rates: dict, due_of: dict) -> tuple[Record, Decimal, Decimal]:
        service = row["service_type_code"]
        rate = rates.get((row["customer_id"], service), rates.get(("*", service), Decimal(0)))
        codes = (row["discount_types"] or "").split(";") if row["discount_types"] else []
        is_refund = row["order_type"] == "Unsubscribe"
        info: Record = {"discounts": []}
        contract_part = Decimal(0)
        if not is_refund and row["discount_amount"] > 0:
            if CONTRACT_DISCOUNT_TYPE in codes:
                contract_part = (row["official_amount"] * rate).quantize(_EIGHT_PLACES, rounding=ROUND_FLOOR)
                info["discounts"].append({"discount_type": CONTRACT_DISCOUNT_TYPE, "discount_amount": contract_part})
            promotion = row["discount_amount"] - contract_part
            promo_codes = [c for c in codes if c != CONTRACT_DISCOUNT_TYPE]
            if promotion != 0 and promo_codes:
                info["discounts"].append({"discount_type": promo_codes[0], "discount_amount": promotion})
        # A refund returns coupon money: its line amounts are ≤ 0, the order shows them positive.
        info["flexipurchase_coupon_amount"] = abs(row["cash_coupon_amount"])
        info["coupon_amount"] = abs(row["voucher_amount"])
        info["stored_card_amount"] = abs(row["stored_card_amount"])
        if is_refund:
            info["commission_amount"] = Decimal(0)
            original_due = _decimal(due_of.get(row["original_order_id"]))
            info["consumed_amount"] = original_due + row["amount_due"]
        return info, contract_part, rate

    # ------------------------------------------------------------------------------ monthly bills

    def bill_totals(self, cycle: str) -> dict[str, Decimal] | None:
        """Σ amount_due by bill type and Σ coupon-paid amounts of a closed month's bill lines."""
        if cycle not in self.world.closed_months:
            return None
        if cycle not in self._bill_totals:
            lines = self.world.bill_lines[cycle]
            by_type = dict(lines.group_by("bill_type").agg(pl.col("amount_due").sum()).iter_rows())
            coupons = lines.select(pl.sum_horizontal(COUPON_PAID_COLUMNS).sum()).item()
            self._bill_totals[cycle] = {
                "consume": _decimal(by_type.get("Expenditure")),
                "refunds": _decimal(by_type.get("Refund")),
                "adjustments": _decimal(by_type.get("Adjustment")),
                "coupon_paid": _decimal(coupons),
            }
        return self._bill_totals[cycle]

    def _tax(self, totals: dict[str, Decimal]) -> tuple[Decimal, Decimal]:
        """(taxable amount, tax): the partner pays the amount due less what coupons paid, plus tax."""
        due = totals["consume"] + totals["refunds"] + totals["adjustments"]
        taxable = due - totals["coupon_paid"]
        return taxable, cents(taxable * PARTNER_TAX_RATE)

    def partner_bill(self, cycle: str) -> Record | None:
        """Grain: bill cycle (ListPostpaidBillSum). Source: the month's bill lines:
        consume_amount = Σ amount_due of Expenditure lines, refunds = Σ of Refund lines,
        adjustments = Σ of Adjustment lines, initial_amount_due = their sum; tax_amount (outside the
        amount due) = PARTNER_TAX_RATE × (amount due − coupon-paid amounts), to the cent.
        None for a month without a bill (not a closed month of the world)."""
        if cycle not in self._partner_bills:
            totals = self.bill_totals(cycle)
            if totals is None:
                self._partner_bills[cycle] = None
            else:
                self._partner_bills[cycle] = {
                    "bill_cycle": cycle,
                    "initial_amount_due": totals["consume"] + totals["refunds"] + totals["adjustments"],
                    "consume_amount": totals["consume"],
                    "refunds": totals["refunds"],
                    "adjustments": totals["adjustments"],
                    "tax_amount": self._tax(totals)[1],
                    "currency": CURRENCY,
                }
        return self._partner_bills[cycle]

    def customer_monthly_sums(self, cycle: str) -> list[Record]:
        """Grain: bill cycle × customer × service type × resource type × bill type × charge mode
        (BillSumInfoV2 of ListSubcustomerMonthlyBills). Source: the month's bill lines; bill_type
        0/1/2 = Expenditure/Refund/Adjustment lines, amount = Σ amount_due (so Σ amount of a
        customer = the customer's total in the bill file), debt_amount = Σ debt, adjustment_amount =
        Σ written-off arrears, discount_amount = Σ discount, account_details = Σ per payment column.
        Empty for a month that is not a closed month of the world."""
        if cycle not in self._monthly_sums:
            self._monthly_sums[cycle] = self._build_monthly_sums(cycle)
        return self._monthly_sums[cycle]

    def _build_monthly_sums(self, cycle: str) -> list[Record]:
        if cycle not in self.world.closed_months:
            return []
        lines = self.world.bill_lines[cycle].with_columns(
            pl.col("billing_mode").replace_strict(CHARGE_MODE_OF_BILLING_MODE, return_dtype=pl.String)
            .alias("charge_mode"),
            pl.col("bill_type").replace_strict(BILL_TYPE_CODES, return_dtype=pl.String).alias("bill_type_code"),
        )
        keys = ["customer_id", "service_type_code", "service_type_name", "resource_type_code",
                "resource_type_name", "bill_type_code", "charge_mode"]
        columns = ("amount_due", "debt_amount", "writeoff_amount", "discount_amount",
                   *(column for column, _ in BALANCE_TYPE_OF_COLUMN))
        sums = _money_sums(lines, keys, columns).sort(keys)
        records = []
        for row in sums.iter_rows(named=True):
            records.append({
                "customer_id": row["customer_id"],
                "cloud_service_type": row["service_type_code"],
                "cloud_service_type_name": row["service_type_name"],
                "bill_type": row["bill_type_code"],
                "charge_mode": row["charge_mode"],
                "amount": row["amount_due"],
                "debt_amount": row["debt_amount"],
                "adjustment_amount": row["writeoff_amount"],
                "discount_amount": row["discount_amount"],
                "measure_id": MONEY_MEASURE_ID,
                "account_details": [
                    {"balance_type": balance_type, "amount": row[column], "bill_type": row["bill_type_code"]}
                    for column, balance_type in BALANCE_TYPE_OF_COLUMN if row[column] != 0
                ],
                "resource_type_code": row["resource_type_code"],
                "resource_type_name": row["resource_type_name"],
            })
        return records

    # ------------------------------------------------------------------------------ policies and discounts

    @functools.cached_property
    def incentive_policies(self) -> list[Record]:
        """Grain: service type (IncentiveAndDiscountPolicy). Source: world.services; the world's
        policies do not change over time. allow_discount is NO where the policy pays nothing (2)."""
        return [{
            "service_type_code": row["service_type_code"],
            "service_type_name": row["service_type_name"],
            "incentive_policy": str(row["incentive_policy"]),
            "allow_discount": "NO" if row["incentive_policy"] == 2 else "YES",
        } for row in self.world.services.iter_rows(named=True)]

    @functools.cached_property
    def commercial_discounts(self) -> Record:
        """The partner's framework commercial discount (ListBusinessDiscountInfo). Source: the
        partner-wide rows ('*') of world.contract_discounts, one CATEGORY_ITEM per service and
        charging mode; discount_ratio is the share of the list price paid (1 − rate). The world
        has no customer-specific contract rates, so these are the rates of every 605 discount."""
        names = dict(zip(self.world.services["service_type_code"].to_list(),
                         self.world.services["service_type_name"].to_list()))
        effective = utc_text(dt.datetime(self.world_begin.year - 1, 1, 1))
        expire = utc_text(dt.datetime(self.as_of.year + 2, 1, 1))
        items = []
        for row in self.world.contract_discounts.filter(pl.col("customer_id") == "*").iter_rows(named=True):
            for mode in COMMERCIAL_CHARGING_MODES:
                items.append({
                    "item_id": _stable_id("CI", self.seed, row["service_type_code"], mode, length=16).upper(),
                    "cloud_service_type": row["service_type_code"],
                    "cloud_service_type_name": names.get(row["service_type_code"]),
                    "site_code": SITE_CODE,
                    "charging_mode": mode,
                    "discount_ratio": 1 - Decimal(row["discount_rate"]),
                    "effective_time": effective,
                    "expire_time": expire,
                })
        regions = [{"region_code": r["region_code"], "region_name": r["region_name"]}
                   for r in self.world.regions.iter_rows(named=True)]
        return {
            "commerce_id": _stable_id("", "commerce", self.partner_id, length=32),
            "commerce_code": f"BE-{self.world_begin.year - 1}-{self.partner_id[:6].upper()}",
            "effective_time": effective,
            "expire_time": expire,
            "product_quoting_items": [],
            "category_quoting_items": items,
            "category_quoting_item_steps": [],
            "sites": [{"site_code": SITE_CODE, "site_name": "HUAWEI CLOUD International", "regions": regions}],
        }

    # ------------------------------------------------------------------------------ partner account

    @functools.cached_property
    def consumption_quota(self) -> Record:
        """The partner's credit (ShowPartnerConsumptionQuota); every amount is a STRING, as in the
        real API. due_amount = the last closed month's amount due less coupon-paid amounts plus tax
        (unpaid at as_of); unbilled_amount = Σ amount_due of the newest usage export (the open month
        so far); used_consumption_quota = due + unbilled − amount − coupon_amount exactly."""
        last = self.bill_totals(self.world.closed_months[-1])
        taxable, tax = self._tax(last)
        due = taxable + tax
        unbilled = Decimal(0)
        if self.newest_export is not None:
            unbilled = _decimal(self.world.usage_exports[self.newest_export]["amount_due"].sum())
        biggest = max(self.bill_totals(m)["consume"] for m in self.world.closed_months)
        quota = max(_round_up(biggest * 3, 10_000), Decimal(10_000))
        balance, coupon_balance = Decimal("1500.00"), Decimal("250.00")
        used = due + unbilled - balance - coupon_balance
        return {
            "consumption_quota": money_text(quota),
            "amount": money_text(balance),
            "coupon_amount": money_text(coupon_balance),
            "due_amount": money_text(due),
            "unbilled_amount": money_text(unbilled),
            "used_consumption_quota": money_text(used),
            "measure_id": MONEY_MEASURE_ID,
            "currency": CURRENCY,
        }

    @functools.cached_property
    def invoices(self) -> list[Record]:
        """Grain: invoice (InvoiceRequestInfoIntl, camelCase). One monthly-settlement invoice per
        closed month, applied at 14:00 GMT+8 on the 5th of the next month (after the bill), listed
        only once applied by as_of. invoiceAmount = amount due − coupon-paid amounts + tax."""
        records = []
        for cycle in self.world.closed_months:
            applied = dt.datetime.combine(date_of(month_start(add_months(cycle, 1))), dt.time(14)) \
                + dt.timedelta(days=4)
            if applied > self.as_of:
                continue
            taxable, tax = self._tax(self.bill_totals(cycle))
            records.append({
                "requestId": _stable_id("IR", self.seed, cycle, length=18).upper(),
                "titleType": 1,
                "invoiceType": 1,
                "invoiceTitle": self.partner_name,
                "invoiceAmount": taxable + tax,
                "invoiceMethod": 0,
                "invoiceClass": 0,
                "invoiceState": 8,
                "applyTime": utc_text(applied),
                "invoiceMode": "1",
                "email": "fi***@example.com",
                "requestMode": "0",
                "invoiceNo": f"INV{cycle.replace('-', '')}{self.partner_id[:6].upper()}",
                "tradeType": 6,
                "billCycle": cycle,
                "taxList": [{"taxClass": "VAT", "taxRate": format(PARTNER_TAX_RATE.normalize(), "f"),
                             "subTaxClass": "VAT", "taxAmount": tax, "taxVisibleFlag": "1",
                             "taxAccountingFlag": "1"}],
            })
        return records

    # ------------------------------------------------------------------------------ reference data

    @functools.cached_property
    def service_types(self) -> list[Record]:
        """Grain: service type (ServiceTypes). Source: the catalogue's services."""
        return [{"service_type_name": name, "service_type_code": code,
                 "abbreviation": SERVICE_ABBREVIATIONS.get(code, code.rsplit(".", 1)[-1].upper())}
                for code, name, _ in SERVICES]

    @functools.cached_property
    def resource_types(self) -> list[Record]:
        """Grain: resource type (ResourceTypes). Source: the catalogue's resource types, each with
        the service of the offers that use it."""
        service_of = {}
        for offer in (*USAGE_OFFERS, *SUBSCRIPTION_OFFERS):
            service_of.setdefault(offer.resource_type, offer.service)
        return [{"resource_type_code": code, "resource_type_name": name, "resource_type_desc": name,
                 "service_type_code": service_of.get(code)} for code, name in RESOURCE_TYPES.items()]

    @functools.cached_property
    def measure_units(self) -> list[Record]:
        """Grain: measurement unit (MeasureUnitRest)."""
        return [{"measure_id": mid, "measure_name": name, "abbreviation": abbreviation, "measure_type": kind}
                for mid, name, abbreviation, kind in MEASURE_UNITS]


def money_text(amount: Decimal) -> str:
    """An amount as the API writes amounts in strings: at least 2 and at most 8 decimals."""
    text = format(amount.quantize(_EIGHT_PLACES, rounding=ROUND_HALF_UP), "f").rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"
