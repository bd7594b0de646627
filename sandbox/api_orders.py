"""The BSS API's orders: the yearly/monthly orders paid up to the API's now, their line items and
their commercial (605) discounts, derived from the world's order lines (part of `ApiData`,
sandbox/api_data.py).
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_FLOOR, Decimal

import numpy as np
import polars as pl

from .api_codes import (
    CONTRACT_DISCOUNT_TYPE,
    CURRENCY,
    EIGHT_PLACES,
    MONEY_MEASURE_ID,
    ORDER_DISCOUNT_TYPE_COMMERCIAL,
    ORDER_SOURCE_CUSTOMER,
    ORDER_STATUS_COMPLETED,
    ORDER_STREAM,
    ORDER_TYPE_CODES,
    PERIOD_TYPE_MONTH,
    PERIOD_TYPE_YEAR,
    Record,
    as_decimal,
    local_time_of,
    stable_id,
    utc_text,
)
from .months import add_months, date_of, month_start


def _add_calendar_months(moment: dt.datetime, months: int) -> dt.datetime:
    month = add_months(moment.strftime("%Y-%m"), months)
    first = dt.datetime.combine(date_of(month_start(month)), moment.time())
    last_day = (date_of(month_start(add_months(month, 1))) - dt.timedelta(days=1)).day
    return first.replace(day=min(moment.day, last_day))


class OrderRecords:
    """Orders, their line items and their discounts.

    A part of `ApiData` (sandbox/api_data.py), which holds the world, the seed and the API's now
    (`as_of`) these datasets read.
    """

    @functools.cached_property
    def _order_book(self) -> tuple[list[Record], dict[str, list[Record]], dict[str, list[Record]]]:
        orders = self.world.orders.filter(pl.col("trade_time") <= self.as_of_file_time)
        joined = orders.join(self._history["order_lines"], left_on="order_id", right_on="trade_id", how="left")
        assert joined.height == orders.height, "an order ID appears on more than one bill line"
        assert joined["product_id"].null_count() == 0, "every order paid up to as_of has its bill line"
        rates = self._contract_rates()
        unit_of = dict(zip(orders["order_id"].to_list(), orders["period_unit"].to_list()))
        due_of = dict(zip(orders["order_id"].to_list(), orders["amount_due"].to_list()))
        rng = np.random.default_rng([self.seed, ORDER_STREAM])
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
                    "discount_id": stable_id("BD", self.seed, row["customer_id"], order["service_type_code"],
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
                contract_part = (row["official_amount"] * rate).quantize(EIGHT_PLACES, rounding=ROUND_FLOOR)
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
            original_due = as_decimal(due_of.get(row["original_order_id"]))
            info["consumed_amount"] = original_due + row["amount_due"]
        return info, contract_part, rate
