"""The BSS API's view of the world (sandbox/api_data.py): every dataset agrees with the world's
bill lines, usage exports and order book, recomputed here independently with Decimal."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import ROUND_FLOOR, Decimal

import polars as pl
import pytest

from sandbox import WorldConfig, generate_world
from sandbox.api_data import ApiData
from sandbox.bss import jsontext

CONFIG = WorldConfig(seed=31, customers=30, resellers=3, closed_months=3, lines_per_month=2500,
                     first_month="2026-07", usage_export_days=6)


@pytest.fixture(scope="module")
def world():
    return generate_world(CONFIG)


@pytest.fixture(scope="module")
def api(world) -> ApiData:
    return world.api_data


def lines_until_now(world, api) -> pl.DataFrame:
    """Every bill line the API has seen: the closed months and the open month up to as_of."""
    open_month = world.month_lines[world.open_month].filter(pl.col("trade_time") <= api.as_of_file_time)
    return pl.concat([*(world.bill_lines[m] for m in world.closed_months), open_month])


def test_as_of_is_the_cutoff_of_the_newest_usage_export(world, api):
    newest = max(date for month, date in world.usage_exports if month == world.open_month)
    assert api.newest_export == (world.open_month, newest)
    assert api.as_of.strftime("%Y%m%d") == newest and api.as_of.hour == 0
    assert api.as_of_utc.endswith("T16:00:00Z")    # 00:00 GMT+8 is 16:00 UTC the day before


def test_every_customer_and_reseller_is_served_once(world, api):
    assert [c["customer_id"] for c in api.customers] == world.customers["customer_id"].to_list()
    assert {c["association_type"] for c in api.customers} == {"3"}
    assert [r["indirect_partner_id"] for r in api.resellers] == world.resellers["reseller_id"].to_list()
    for reseller in api.resellers:   # a reseller is associated before any of its customers
        own = [c["associated_on"] for c in api.customers if api.reseller_of[c["customer_id"]]
               == reseller["indirect_partner_id"]]
        assert all(reseller["associated_on"] < t for t in own)


def test_coupon_use_equals_the_coupon_payments_on_the_lines(world, api):
    truth: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for customer, cash_coupon, voucher in lines_until_now(world, api).select(
            "customer_id", "cash_coupon_amount", "voucher_amount").iter_rows():
        truth[(customer, 4)] += cash_coupon
        truth[(customer, 1)] += voucher
    used: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for coupon in api.coupons:
        used[(coupon["customer_id"], coupon["coupon_type"])] += coupon["face_value"] - coupon["balance"]
        assert coupon["balance"] >= 0
        assert api.coupon_usage[coupon["coupon_id"]]["used_amount"] == coupon["face_value"] - coupon["balance"]
    assert {k: v for k, v in used.items() if v} == {k: v for k, v in truth.items() if v}
    assert sum(truth.values()) > 0


def test_coupon_status_follows_validity_and_balance(api):
    now = api.as_of_utc
    statuses = Counter()
    for coupon in api.coupons:
        if coupon["expire_time"] <= now:
            expected = 4
        elif coupon["valid_time"] > now:
            expected = 1
        else:
            expected = 2 if coupon["balance"] > 0 else 3
        assert coupon["status"] == expected
        statuses[expected] += 1
        owner = api.reseller_of[coupon["customer_id"]] or api.partner_id
        assert coupon["source_id"] in (owner, None)
    assert statuses[2] > 0 and statuses[4] > 0


def test_coupon_quota_balances_are_the_quota_less_the_issued_face_values(api):
    issued = defaultdict(Decimal)
    for coupon in api.coupons:
        if coupon["source_id"]:
            issued[(coupon["source_id"], coupon["coupon_type"])] += coupon["face_value"]
    coupon_type_of_quota = {0: 1, 1: 4}
    for quota in api.coupon_quotas:
        owner = api.quota_owner[quota["quota_id"]]
        assert quota["quota_value"] - quota["balance"] == issued[(owner, coupon_type_of_quota[quota["quota_type"]])]
    assert len(api.coupon_quotas) == 2 * (1 + len(api.reseller_ids))


def test_orders_carry_their_bill_lines_amounts_and_contract_discount(world, api):
    order_lines = lines_until_now(world, api).filter(pl.col("order_type").is_in(["New", "Renew", "Change",
                                                                                 "Unsubscribe"]))
    lines = {row["trade_id"]: row for row in order_lines.iter_rows(named=True)}
    assert len(lines) == order_lines.height > 100     # one bill line per order
    rates = {(r["customer_id"], r["service_type_code"]): r["discount_rate"]
             for r in world.contract_discounts.iter_rows(named=True)}
    assert Counter(o["order_id"] for o in api.orders) == Counter(lines.keys())
    for order in api.orders:
        line = lines[order["order_id"]]
        info = order["amount_info"]
        if line["order_type"] == "Unsubscribe":
            assert order["order_type"] == 4
            assert order["official_amount"] == order["amount_after_discount"] == -line["amount_due"] > 0
            assert info["discounts"] == []
            continue
        assert order["amount_after_discount"] == line["amount_due"]
        assert order["official_amount"] == line["official_amount"]
        assert sum((d["discount_amount"] for d in info["discounts"]), Decimal(0)) == line["discount_amount"]
        assert info["flexipurchase_coupon_amount"] == line["cash_coupon_amount"]
        assert info["coupon_amount"] == line["voucher_amount"]
        contract = [d for d in info["discounts"] if d["discount_type"] == "605"]
        assert bool(contract) == ("605" in (line["discount_types"] or ""))
        if contract:
            rate = rates.get((line["customer_id"], line["service_type_code"]), rates[("*", line["service_type_code"])])
            assert contract[0]["discount_amount"] == (line["official_amount"] * rate).quantize(
                Decimal("1e-8"), rounding=ROUND_FLOOR)
            offered = api.order_discounts[order["order_id"]][0]
            assert offered["discount_type"] == 2 and offered["orders"][0]["order_line_items"][0][
                "discount_ratio"] == 1 - rate
        assert len(api.order_line_items[order["order_id"]]) == 1


def test_partner_bills_and_customer_sums_add_up_to_the_bill_files(world, api):
    for month in world.closed_months:
        lines = world.bill_lines[month]
        by_type = defaultdict(Decimal)
        for bill_type, amount in lines.select("bill_type", "amount_due").iter_rows():
            by_type[bill_type] += amount
        bill = api.partner_bill(month)
        assert (bill["consume_amount"], bill["refunds"], bill["adjustments"]) == (
            by_type["Expenditure"], by_type["Refund"], by_type["Adjustment"])
        assert bill["initial_amount_due"] == sum(by_type.values())

        per_customer = defaultdict(Decimal)
        per_customer_and_type = defaultdict(Decimal)
        for entry in api.customer_monthly_sums(month):
            per_customer[entry["customer_id"]] += entry["amount"]
            per_customer_and_type[(entry["customer_id"], entry["bill_type"])] += entry["amount"]
            paid = sum((d["amount"] for d in entry["account_details"]), Decimal(0))
            assert paid + entry["debt_amount"] + entry["adjustment_amount"] == entry["amount"]
        file_totals = defaultdict(Decimal)
        codes = {"Expenditure": "0", "Refund": "1", "Adjustment": "2"}
        file_by_type = defaultdict(Decimal)
        for customer, bill_type, amount in lines.select("customer_id", "bill_type", "amount_due").iter_rows():
            file_totals[customer] += amount
            file_by_type[(customer, codes[bill_type])] += amount
        assert per_customer == file_totals
        assert per_customer_and_type == file_by_type
    assert api.partner_bill(world.open_month) is None
    assert api.customer_monthly_sums(world.open_month) == []


def test_monthly_budgets_use_the_newest_usage_export(world, api):
    export = world.usage_exports[api.newest_export]
    month_to_date = defaultdict(Decimal)
    for customer, official in export.select("customer_id", "official_amount").iter_rows():
        month_to_date[customer] += official
    assert [b["customer_id"] for b in api.budgets] == world.customers["customer_id"].to_list()
    monthly = [b for b in api.budgets if b["budget_type"] == "MONTHLY"]
    assert monthly and all(b["used_amount"] == month_to_date[b["customer_id"]] for b in monthly)
    assert all(b["budget_amount"] > 0 and b["budget_amount"] == b["budget_amount"].quantize(Decimal("0.01"))
               for b in api.budgets)
    utilisation = [b["used_amount"] / b["budget_amount"] for b in api.budgets]
    assert any(u >= Decimal("0.75") for u in utilisation) and any(u < Decimal("0.5") for u in utilisation)


def test_invoices_and_consumption_quota_follow_the_bills(world, api):
    for invoice in api.invoices:
        month = invoice["billCycle"]
        lines = world.bill_lines[month]
        coupons = sum((sum(row) for row in lines.select(
            "cash_coupon_amount", "voucher_amount", "stored_card_amount").iter_rows()), Decimal(0))
        bill = api.partner_bill(month)
        assert invoice["taxList"][0]["taxAmount"] == bill["tax_amount"]
        assert invoice["invoiceAmount"] == bill["initial_amount_due"] - coupons + bill["tax_amount"]
        assert invoice["applyTime"] <= api.as_of_utc
    quota = api.consumption_quota
    assert all(isinstance(quota[k], str) for k in ("consumption_quota", "amount", "coupon_amount", "due_amount",
                                                   "unbilled_amount", "used_consumption_quota"))
    value = {k: Decimal(v) for k, v in quota.items() if isinstance(v, str) and k != "currency"}
    assert value["used_consumption_quota"] == (value["due_amount"] + value["unbilled_amount"]
                                               - value["amount"] - value["coupon_amount"])
    unbilled = sum(world.usage_exports[api.newest_export]["amount_due"].to_list(), Decimal(0))
    assert value["unbilled_amount"] == unbilled


def test_policies_and_commercial_discounts_come_from_the_catalogue(world, api):
    policy = {p["service_type_code"]: p for p in api.incentive_policies}
    for row in world.services.iter_rows(named=True):
        assert policy[row["service_type_code"]]["incentive_policy"] == str(row["incentive_policy"])
    assert policy["hws.service.type.sp"]["allow_discount"] == "NO"
    partner_wide = {r["service_type_code"]: r["discount_rate"]
                    for r in world.contract_discounts.filter(pl.col("customer_id") == "*").iter_rows(named=True)}
    items = api.commercial_discounts["category_quoting_items"]
    assert len(items) == 3 * len(partner_wide)
    assert all(item["discount_ratio"] == 1 - partner_wide[item["cloud_service_type"]] for item in items)


def test_the_same_seed_gives_the_same_api_data(api):
    again = generate_world(CONFIG).api_data

    def everything(data: ApiData) -> str:
        datasets = {name: getattr(data, name) for name in (
            "customers", "resellers", "budgets", "coupons", "coupon_quotas", "orders", "order_line_items",
            "order_discounts", "incentive_policies", "commercial_discounts", "consumption_quota", "invoices",
            "service_types", "resource_types", "measure_units")}
        datasets["bills"] = [data.partner_bill(m) for m in data.world.closed_months]
        datasets["sums"] = [data.customer_monthly_sums(m) for m in data.world.closed_months]
        return jsontext.dumps(datasets)

    assert everything(again) == everything(api)
