"""The BSS API's parties and what they hold: resale customers, resellers, the customers' budgets
and coupons, and the coupon quotas of the distributor and its resellers (part of `ApiData`,
sandbox/api_data.py).
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

import numpy as np
import polars as pl

from .api_codes import (
    BUDGET_STREAM,
    CENT,
    COUNTRY_CODE_OF_REGION,
    COUPON_STREAM,
    COUPON_TYPE_CASH,
    COUPON_TYPE_VOUCHER,
    CURRENCY,
    CUSTOMER_STREAM,
    MONEY_MEASURE_ID,
    RESALE_ASSOCIATION,
    RESELLER_STREAM,
    UTC_FORMAT,
    Record,
    as_decimal,
    coupon_status,
    local_time_of,
    round_up,
    stable_id,
    utc_text,
)


def _factor(uniform: float, low: float, high: float) -> Decimal:
    """A multiplier in [low, high) with three decimals, from a uniform draw in [0, 1)."""
    return Decimal(str(round(low + (high - low) * float(uniform), 3)))


class PartyRecords:
    """Customers, resellers, budgets, coupons and coupon quotas.

    A part of `ApiData` (sandbox/api_data.py), which holds the world, the seed and the API's now
    (`as_of`) these datasets read.
    """

    @functools.cached_property
    def customers(self) -> list[Record]:
        """Grain: resale customer (CustomerInformation of ListSubCustomers). Source: world.customers;
        contact details, level and the association time of day are drawn on a stream of their own."""
        rng = np.random.default_rng([self.seed, CUSTOMER_STREAM])
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
        rng = np.random.default_rng([self.seed, RESELLER_STREAM])
        first_customer = {}
        for customer in self.customers:
            owner = self.reseller_of[customer["customer_id"]]
            if owner is not None:
                first_customer[owner] = min(first_customer.get(owner, customer["associated_on"]),
                                            customer["associated_on"])
        records = []
        for i, row in enumerate(self.world.resellers.iter_rows(named=True)):
            earliest = first_customer.get(row["reseller_id"], utc_text(self.world_begin))
            associated = dt.datetime.strptime(earliest, UTC_FORMAT) - dt.timedelta(
                days=int(rng.integers(20, 200)), seconds=int(rng.integers(0, 86_400)))
            records.append({
                "indirect_partner_id": row["reseller_id"],
                "mobile_phone": f"1*****{int(rng.integers(1000, 10_000))}",
                "email": f"{row['account_name'][:2]}***@example.com",
                "account_name": row["account_name"],
                "name": row["reseller_name"],
                "associated_on": associated.strftime(UTC_FORMAT),
                "account_manager_id": stable_id("", "manager", self.seed, i, length=32),
                "account_manager_name": f"am_{i + 1:02d}",
            })
        return records

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
        rng = np.random.default_rng([self.seed, BUDGET_STREAM])
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
            used = as_decimal(month_to_date.get(customer_id))
            if one_time:
                used += as_decimal(all_closed.get(customer_id))
                amount = max(round_up(used * _factor(one_time_factor, 1.05, 1.8), 10), Decimal(500))
            else:
                factor = _factor(tight_factor, 0.8, 1.0) if roll < 0.45 else _factor(monthly_factor, 1.05, 1.4)
                base = as_decimal(last_spend.get(customer_id)) * factor
                amount = max(round_up(base, 100 if base >= 1000 else 10), Decimal(100))
            # Headroom over what is spent so far, whatever the budget was sized from.
            headroom = max(used, as_decimal(month_to_date.get(customer_id))) * Decimal("1.05")
            amount = max(amount, round_up(headroom, 10)).quantize(CENT)
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
        rng = np.random.default_rng([self.seed, COUPON_STREAM])
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
        used = as_decimal(use["used"]) if use else Decimal(0)
        days = dt.timedelta(days=1)
        if kind == "used":
            valid = self.world_begin - days * int(rng.integers(5, 120))
            expire = self.as_of + days * int(rng.integers(5, 300))   # some expire within weeks
            face = max(round_up(used * Decimal(str(round(float(rng.uniform(1.1, 2.5)), 2))), 10), Decimal(10))
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
        coupon_id = stable_id("CP", self.seed, customer_id, kind, coupon_type, serial, length=18).upper()
        plan_id = stable_id("PP", self.seed, owner if partner_issued else "HWC", coupon_type, length=12)
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
                value = round_up(used + 5000, 1000).quantize(CENT)
                quota_id = stable_id("QT", self.seed, owner, quota_type, length=20).upper()
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
