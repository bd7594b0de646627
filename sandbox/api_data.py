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

`ApiData` is assembled from parts: the parties and what they hold (sandbox/api_parties.py), the
orders (sandbox/api_orders.py), the monthly bills and the partner's account (sandbox/api_bills.py);
here are the history of the lines they share, the policies and discounts, and the reference data.
The codes and value conversions of the records are in sandbox/api_codes.py.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl

from .api_bills import BillRecords
from .api_codes import (
    COMMERCIAL_CHARGING_MODES,
    COUPON_COLUMN,
    COUPON_PAID_COLUMNS,
    MEASURE_UNITS,
    ORDER_TYPE_CODES,
    SERVICE_ABBREVIATIONS,
    SITE_CODE,
    Record,
    stable_id,
    utc_text,
)
from .api_orders import OrderRecords
from .api_parties import PartyRecords
from .catalog import RESOURCE_TYPES, SERVICES, SUBSCRIPTION_OFFERS, USAGE_OFFERS
from .formats import TIME_FORMAT
from .months import date_of, month_start

if TYPE_CHECKING:
    from .world import World

_ORDER_TYPES = tuple(ORDER_TYPE_CODES)


class ApiData(PartyRecords, OrderRecords, BillRecords):
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
                    "item_id": stable_id("CI", self.seed, row["service_type_code"], mode, length=16).upper(),
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
            "commerce_id": stable_id("", "commerce", self.partner_id, length=32),
            "commerce_code": f"BE-{self.world_begin.year - 1}-{self.partner_id[:6].upper()}",
            "effective_time": effective,
            "expire_time": expire,
            "product_quoting_items": [],
            "category_quoting_items": items,
            "category_quoting_item_steps": [],
            "sites": [{"site_code": SITE_CODE, "site_name": "HUAWEI CLOUD International", "regions": regions}],
        }

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
