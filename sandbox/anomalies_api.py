"""Anomalies planted in the BSS API's records (sandbox/anomalies.py, step 4): the partner's monthly
bill, the customer monthly sums, a 607 discount on an order, a budget below its spend, and the
coupons of the coupon plants. They live in `world.api_data`, the records the emulator serves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import ROUND_DOWN, Decimal

import polars as pl

from .anomalies_base import CENT, Planter
from .api_codes import COUPON_COLUMN, COUPON_TYPE_CASH, COUPON_TYPE_VOUCHER, coupon_status, local_time_of, utc_text
from .api_data import ApiData

PARTNER_DISCOUNT_TYPE = "607"          # partner-authorised discount: never allowed on a resale order
COUPON_TYPE_NAMES = {COUPON_TYPE_CASH: "cash_coupon", COUPON_TYPE_VOUCHER: "voucher"}


def _local_time_of_utc(utc: str) -> dt.datetime:
    """The API's UTC text → naive GMT+8 datetime."""
    return dt.datetime.strptime(utc, "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(hours=8)


class ApiPlants(Planter):
    """Plants in the records of the BSS API."""

    def plant_api(self) -> None:
        api = self.world.api_data
        self._plant_partner_bills(api)
        tied: set[tuple[str, str]] = set()
        self._plant_customer_amounts(api, tied)
        self._plant_customers_missing_in_api(api, tied)
        self._plant_customers_missing_in_file(api, tied)
        self._plant_partner_discounts(api)
        self._plant_budgets(api)
        self._expire_coupons(api)
        self._plant_coupon_balances(api)

    def _plant_partner_bills(self, api: ApiData) -> None:
        """X (1.00 … 500.00) added to one component of a closed cycle's partner bill, leaving
        initial_amount_due as it is: one mismatching component. Consumption first, one per cycle;
        refunds and adjustments only when there are more plants than cycles."""
        cycles = list(self._shuffled(self.closed))
        places = [(cycle, component) for component in ("consumption", "refunds", "adjustments") for cycle in cycles]
        field_of = {"consumption": "consume_amount", "refunds": "refunds", "adjustments": "adjustments"}
        for cycle, component in places[:self.count]:
            change = self._amount("1.00", "500.00")
            bill = api.partner_bill(cycle)
            bill[field_of[component]] += change
            self._plant("TIEOUT.PARTNER_BILL", cycle, None, component, change)

    def _customers_with_lines(self, cycle: str) -> dict[str, Decimal]:
        """Customer → Σ amount_due of its lines in the cycle's bill file."""
        sums = self.lines[cycle].group_by("customer_id").agg(pl.col("amount_due").sum()).sort("customer_id")
        return dict(sums.iter_rows())

    def _plant_customer_amounts(self, api: ApiData, tied: set[tuple[str, str]]) -> None:
        """X (1.00 … 200.00) added to one monthly-sum record of a customer (and to its payment detail,
        so the record stays self-consistent)."""
        candidates = [(cycle, customer) for cycle in self.closed for customer in self._customers_with_lines(cycle)]
        for cycle, customer in self._pick(candidates):
            records = [r for r in api.customer_monthly_sums(cycle) if r["customer_id"] == customer]
            record = records[int(self.rng.integers(0, len(records)))]
            change = self._amount("1.00", "200.00")
            record["amount"] += change
            if record["account_details"]:
                detail = record["account_details"][0]
                detail["amount"] += change
            else:
                record["account_details"].append({"balance_type": "BALANCE_TYPE_CREDIT", "amount": change,
                                                  "bill_type": record["bill_type"]})
            tied.add((cycle, customer))
            self._plant("TIEOUT.CUSTOMER_AMOUNT", cycle, customer, None, change)

    def _plant_customers_missing_in_api(self, api: ApiData, tied: set[tuple[str, str]]) -> None:
        """Every monthly-sum record of a customer whose lines add up to at least 1.00 (either sign)
        dropped from a cycle."""
        candidates = [(cycle, customer, total) for cycle in self.closed
                      for customer, total in self._customers_with_lines(cycle).items()
                      if abs(total) >= 1 and (cycle, customer) not in tied]
        for cycle, customer, total in self._pick(candidates):
            records = api.customer_monthly_sums(cycle)
            records[:] = [r for r in records if r["customer_id"] != customer]
            tied.add((cycle, customer))
            self._plant("TIEOUT.CUSTOMER_MISSING_IN_API", cycle, customer, None, -total)

    def _plant_customers_missing_in_file(self, api: ApiData, tied: set[tuple[str, str]]) -> None:
        """A monthly-sum record of X (1.00 … 200.00) for a customer without lines in the cycle: a
        customer of the world when one has no lines, else a customer ID the world does not know."""
        world_customers = self.world.customers["customer_id"].to_list()
        for sequence, cycle in enumerate(self._pick(self.closed * self.count)):
            idle = [c for c in world_customers if c not in self._customers_with_lines(cycle)
                    and (cycle, c) not in tied]
            customer = idle[int(self.rng.integers(0, len(idle)))] if idle else \
                hashlib.sha256(f"unknown|{self.world.config.seed}|{cycle}|{sequence}".encode()).hexdigest()[:32]
            change = self._amount("1.00", "200.00")
            api.customer_monthly_sums(cycle).append({
                "customer_id": customer,
                "cloud_service_type": "hws.service.type.ec2",
                "cloud_service_type_name": "Elastic Cloud Server",
                "bill_type": "0",
                "charge_mode": "3",
                "amount": change,
                "debt_amount": Decimal(0),
                "adjustment_amount": Decimal(0),
                "discount_amount": Decimal(0),
                "measure_id": 1,
                "account_details": [{"balance_type": "BALANCE_TYPE_CREDIT", "amount": change, "bill_type": "0"}],
                "resource_type_code": "hws.resource.type.vm",
                "resource_type_name": "ECS",
            })
            tied.add((cycle, customer))
            self._plant("TIEOUT.CUSTOMER_MISSING_IN_FILE", cycle, customer, None, change)

    def _plant_partner_discounts(self, api: ApiData) -> None:
        """A 607 (partner-authorised) discount of X (1.00 … 50.00) on a closed cycle's New, Renew or
        Change order whose line no plant touched: in the order's amount_info.discounts (what the
        order list shows) and in its order-discounts record (ListOrderDiscounts). The bill line and
        the order's amounts stay as they are."""
        cycle_of = dict(self.world.orders.select("order_id", "bill_cycle").iter_rows())
        candidates = [order for order in api.orders
                      if cycle_of.get(order["order_id"]) in self.closed and order["order_type"] != 4
                      and order["order_id"] not in self.touched_lines and order["official_amount"] >= 5]
        candidates.sort(key=lambda order: order["order_id"])
        for order in self._pick(candidates):
            amount = self._amount("1.00", min(Decimal("50.00"), (order["official_amount"] / 2).quantize(CENT)))
            order["amount_info"]["discounts"].append({"discount_type": PARTNER_DISCOUNT_TYPE,
                                                      "discount_amount": amount})
            item_id = api.order_line_items[order["order_id"]][0]["order_line_item_id"]
            api.order_discounts.setdefault(order["order_id"], []).append({
                "discount_id": hashlib.sha256(f"607|{order['order_id']}".encode()).hexdigest()[:20].upper(),
                "discount_value": str(amount),
                "discount_type": int(PARTNER_DISCOUNT_TYPE),
                "orders": [{"order_id": order["order_id"], "order_line_items": [{
                    "order_line_item_ids": [item_id], "discount_mode": 2,   # 2 = reduction
                    "discount_amount": amount, "discount_ratio": None}]}],
            })
            self.touched_lines.add(order["order_id"])
            self._plant("DISCOUNT.PARTNER_DISCOUNT_ON_RESALE", cycle_of[order["order_id"]], order["customer_id"],
                        order["order_id"], amount)

    def _plant_budgets(self, api: ApiData) -> None:
        """A customer that is not frozen, with a monthly budget and at least 5.00 spent this month, given
        a budget of 50–90 % of that spend (in whole dollars). (A one-time budget counts earlier months.)"""
        frozen = {c["customer_id"] for c in api.customers if c["is_frozen"]}
        spend = api.month_to_date_list_spend
        candidates = [b for b in api.budgets if b["customer_id"] not in frozen and b["budget_type"] == "MONTHLY"
                      and spend.get(b["customer_id"], Decimal(0)) >= 5]
        for budget in self._pick(candidates):
            spent = spend[budget["customer_id"]]
            amount = (spent * Decimal(str(self.rng.uniform(0.5, 0.9)))).to_integral_value(ROUND_DOWN)
            budget["budget_amount"] = max(amount, Decimal(1)).quantize(CENT)
            self._plant("BUDGET.OVER_NOT_FROZEN", self.world.open_month, budget["customer_id"], None,
                        spent - budget["budget_amount"])

    def _expire_coupons(self, api: ApiData) -> None:
        """The API side of COUPON.USED_AFTER_EXPIRY: the customer's only used cash coupon (which the
        API built to carry exactly the planted use) expired 1–20 days before the line; any spare cash
        coupon of the customer that was valid then becomes valid only after the line."""
        for customer, trade_time, moved in self.expired_coupon_uses:
            paid_at = local_time_of(trade_time)
            cash_coupons = [c for c in api.coupons
                            if c["customer_id"] == customer and c["coupon_type"] == COUPON_TYPE_CASH]
            used = [c for c in cash_coupons if c["face_value"] - c["balance"] != 0]
            assert len(used) == 1 and used[0]["face_value"] - used[0]["balance"] == moved, (customer, used)
            expire = paid_at - dt.timedelta(days=int(self.rng.integers(1, 21)), hours=int(self.rng.integers(0, 24)))
            self._set_validity(api, used[0], expire - dt.timedelta(days=180), expire)
            for spare in cash_coupons:
                if spare is not used[0] and spare["valid_time"] <= utc_text(paid_at) < spare["expire_time"]:
                    valid = paid_at + dt.timedelta(days=1)
                    self._set_validity(api, spare, valid, max(_local_time_of_utc(spare["expire_time"]),
                                                              valid + dt.timedelta(days=180)))

    @staticmethod
    def _set_validity(api: ApiData, coupon: dict, valid: dt.datetime, expire: dt.datetime) -> None:
        coupon["valid_time"] = coupon["active_time"] = utc_text(valid)
        coupon["create_time"] = utc_text(valid - dt.timedelta(hours=2))
        coupon["expire_time"] = utc_text(expire)
        coupon["status"] = coupon_status(coupon["valid_time"], coupon["expire_time"], coupon["balance"], api.as_of_utc)

    def _plant_coupon_balances(self, api: ApiData) -> None:
        """X (30–90 % of the coupon's use, to the cent) added back to the balance of a used coupon of
        a customer whose use of that coupon type lies wholly in the closed months: the bill lines then
        show X more coupon payments than all the customer's coupons of that type ever gave."""
        closed_use: dict[tuple[str, int], Decimal] = {}
        open_use: dict[tuple[str, int], Decimal] = {}
        for uses, frames in ((closed_use, self.lines.values()), (open_use, [self._open_lines_until_now()])):
            for frame in frames:
                for coupon_type, column in COUPON_COLUMN.items():
                    for customer, amount in frame.group_by("customer_id").agg(pl.col(column).sum()).iter_rows():
                        uses[(customer, coupon_type)] = uses.get((customer, coupon_type), Decimal(0)) + amount
        candidates = []
        for coupon in api.coupons:
            key = (coupon["customer_id"], coupon["coupon_type"])
            use = coupon["face_value"] - coupon["balance"]
            if (coupon["customer_id"] not in self.coupon_customers and use >= Decimal("0.10")
                    and not open_use.get(key) and closed_use.get(key) == use):
                candidates.append(coupon)
        for coupon in self._shuffled(candidates):
            if len([p for p in self.planted if p.rule_id == "COUPON.USED_BEYOND_BALANCE"]) == self.count:
                break
            if coupon["customer_id"] in self.coupon_customers:
                continue
            use = coupon["face_value"] - coupon["balance"]
            restored = max(CENT, (use * Decimal(str(self.rng.uniform(0.3, 0.9)))).quantize(CENT, ROUND_DOWN))
            coupon["balance"] += restored
            coupon["status"] = coupon_status(coupon["valid_time"], coupon["expire_time"], coupon["balance"],
                                             api.as_of_utc)
            api.coupon_usage[coupon["coupon_id"]]["used_amount"] = use - restored
            self.coupon_customers.add(coupon["customer_id"])
            self._plant("COUPON.USED_BEYOND_BALANCE", None, coupon["customer_id"],
                        COUPON_TYPE_NAMES[coupon["coupon_type"]], restored)
