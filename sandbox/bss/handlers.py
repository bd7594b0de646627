"""The API operations the emulator serves: parameters, filters and response shapes, one handler
per SDK method.

Request parameter and response field names are those of the SDK models (docs/domain.md). Each
handler reads `ApiData` records and returns the response body as a dict; problems are raised as
`ApiError`.

Scoping (docs/domain.md#distributors-resellers-and-scope): most partner APIs take
`indirect_partner_id`. Without it a distributor sees only its own direct customers; with a
reseller's ID it sees that reseller's customers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from ..api_codes import CURRENCY, MONEY_MEASURE_ID, Record
from ..api_data import ApiData
from .calls import DEFAULT_MAX_LIMIT, ApiError, Call, bad_parameter

# Association types meaning "resale" on the international (3) and China (2) sites (docs/domain.md).
_RESALE_CODES = {"2", "3"}
_REFERRAL_CODE = "1"


# ----------------------------------------------------------------------------------------- shared filters

EVERY_CUSTOMER = "*"   # scope of a request without indirect_partner_id when reseller scoping is off


def scope(api: ApiData, call: Call) -> str | None:
    """The reseller a request acts for (None = the distributor's own customers)."""
    reseller = call.text("indirect_partner_id")
    if reseller is not None and reseller not in api.reseller_ids:
        raise ApiError(400, "CBC.99000037", "No permission on this cloud reseller.")
    if reseller is None and not call.reseller_scoping:
        return EVERY_CUSTOMER
    return reseller


def in_scope(api: ApiData, customer_id: str, reseller: str | None) -> bool:
    return reseller == EVERY_CUSTOMER or api.reseller_of.get(customer_id) == reseller


def issuing_partner(api: ApiData, reseller: str | None) -> str:
    """Whose coupons and quotas a request sees: the named reseller's, else the distributor's."""
    return api.partner_id if reseller in (None, EVERY_CUSTOMER) else reseller


def _contains(haystack: str | None, needle: str | None) -> bool:
    return needle is None or (haystack is not None and needle.lower() in haystack.lower())


def _within(value: str | None, begin: str | None, end: str | None) -> bool:
    """UTC texts of one format compare like the times they name."""
    if begin is None and end is None:
        return True
    return value is not None and (begin is None or value >= begin) and (end is None or value <= end)


def _equals(value: Any, wanted: Any) -> bool:
    return wanted is None or str(value) == str(wanted)


def _only(records: Iterable[Record], *tests: Callable[[Record], bool]) -> list[Record]:
    return [r for r in records if all(test(r) for test in tests)]


# ----------------------------------------------------------------------------------------- customers

def list_sub_customers(api: ApiData, call: Call) -> dict:
    reseller = scope(api, call)
    association = call.text("association_type")
    if association is not None and association not in _RESALE_CODES | {_REFERRAL_CODE}:
        raise bad_parameter("association_type must be 1, 2 or 3")
    begin, end = call.utc_time("associated_on_begin"), call.utc_time("associated_on_end")
    account_name, name, label, customer_id = (call.text(n) for n in ("account_name", "customer", "label",
                                                                      "customer_id"))
    records = _only(
        api.customers,
        lambda r: in_scope(api, r["customer_id"], reseller),
        lambda r: association is None or (association in _RESALE_CODES) == (r["association_type"] in _RESALE_CODES),
        lambda r: _contains(r["account_name"], account_name) and _contains(r["customer"], name),
        lambda r: _contains(r["label"], label) and _equals(r["customer_id"], customer_id),
        lambda r: _within(r["associated_on"], begin, end),
    )
    return call.page(records, "count", "customer_infos")


def list_indirect_partners(api: ApiData, call: Call) -> dict:
    account_name, reseller = call.text("account_name"), call.text("indirect_partner_id")
    begin, end = call.utc_time("associated_on_begin"), call.utc_time("associated_on_end")
    records = _only(api.resellers, lambda r: _contains(r["account_name"], account_name),
                    lambda r: _equals(r["indirect_partner_id"], reseller),
                    lambda r: _within(r["associated_on"], begin, end))
    return call.page(records, "count", "indirect_partners")


# ----------------------------------------------------------------------------------------- budgets

def show_sub_customer_budget(api: ApiData, call: Call) -> dict:
    reseller = scope(api, call)
    customer_id = call.required("customer_id")
    if customer_id not in api.reseller_of or not in_scope(api, customer_id, reseller):
        raise ApiError(400, "CBC.99000035", "The customer is not a sub-customer of the partner.")
    budget = next((b for b in api.budgets if b["customer_id"] == customer_id), None)
    if budget is None:
        return {"measure_id": MONEY_MEASURE_ID, "currency": CURRENCY}
    return {"budget_amount": budget["budget_amount"], "used_amount": budget["used_amount"],
            "measure_id": MONEY_MEASURE_ID, "currency": CURRENCY, "budget_type": budget["budget_type"]}


def list_sub_customer_budget(api: ApiData, call: Call) -> dict:
    reseller = scope(api, call)
    customer_ids = call.strings("customer_ids")
    if not customer_ids:
        raise bad_parameter("customer_ids is required")
    if len(customer_ids) > DEFAULT_MAX_LIMIT:
        raise bad_parameter(f"at most {DEFAULT_MAX_LIMIT} customer_ids per call")
    wanted = set(customer_ids)
    # Customers that are not this partner's (or this reseller's) are silently left out (docs/domain.md#budgets).
    infos = [dict(b) for b in api.budgets
             if b["customer_id"] in wanted and in_scope(api, b["customer_id"], reseller)]
    return {"measure_id": MONEY_MEASURE_ID, "currency": CURRENCY, "budget_infos": infos}


# ----------------------------------------------------------------------------------------- coupons

def list_sub_customer_coupons(api: ApiData, call: Call) -> dict:
    reseller = scope(api, call)
    coupon_id, order_id, plan_id, source_id = (call.text(n) for n in ("coupon_id", "order_id",
                                                                       "promotion_plan_id", "source_id"))
    coupon_type, status = call.integer("coupon_type"), call.integer("status")
    begin, end = call.utc_time("active_start_time"), call.utc_time("active_end_time")
    records = _only(
        api.coupons,
        lambda r: in_scope(api, r["customer_id"], reseller),
        lambda r: _equals(r["coupon_id"], coupon_id) and _equals(r["order_id"], order_id),
        lambda r: _equals(r["promotion_plan_id"], plan_id) and _equals(r["source_id"], source_id),
        lambda r: _equals(r["coupon_type"], coupon_type) and _equals(r["status"], status),
        lambda r: _within(r["active_time"], begin, end),
    )
    return call.page(records, "count", "user_coupons")


def list_issued_partner_coupons(api: ApiData, call: Call) -> dict:
    reseller = scope(api, call)
    issuer = issuing_partner(api, reseller)
    coupon_id, customer_id, order_id = call.text("coupon_id"), call.text("customer_id"), call.text("order_id")
    coupon_type, status = call.integer("coupon_type"), call.integer("status")
    windows = {name: (call.utc_time(f"{name}_begin"), call.utc_time(f"{name}_end"))
               for name in ("create_time", "effective_time", "expire_time")}
    views = [api.partner_coupon_view(c) for c in api.coupons
             if c["source_id"] == issuer and in_scope(api, c["customer_id"], reseller)]
    records = _only(
        views,
        lambda r: _equals(r["coupon_id"], coupon_id) and _equals(r["customer_id"], customer_id),
        lambda r: _equals(r["order_id"], order_id) and _equals(r["coupon_type"], coupon_type),
        lambda r: _equals(r["status"], status),
        lambda r: all(_within(r[name], begin, end) for name, (begin, end) in windows.items()),
    )
    return call.page(records, "total_count", "user_coupons")


def list_quota_coupons(api: ApiData, call: Call) -> dict:
    owner = issuing_partner(api, scope(api, call))
    quota_ids = call.strings("quota_ids")
    statuses = call.params.get("quota_status_list")
    quota_type = call.integer("quota_type")
    windows = {name: (call.utc_time(f"{name}_begin"), call.utc_time(f"{name}_end"))
               for name in ("create_time", "effective_time", "expire_time")}
    records = _only(
        api.coupon_quotas,
        lambda r: api.quota_owner.get(r["quota_id"]) == owner,
        lambda r: not quota_ids or r["quota_id"] in quota_ids,
        lambda r: not statuses or r["quota_status"] in statuses,
        lambda r: _equals(r["quota_type"], quota_type),
        lambda r: all(_within(r[name], begin, end) for name, (begin, end) in windows.items()),
    )
    return call.page(records, "total_count", "quotas")


# ----------------------------------------------------------------------------------------- orders

def list_customer_orders(api: ApiData, call: Call) -> dict:
    reseller = scope(api, call)
    order_id, customer_id, service = call.text("order_id"), call.text("customer_id"), call.text("service_type_code")
    status, order_type = call.integer("status"), call.text("order_type")
    created = call.utc_time("create_time_begin"), call.utc_time("create_time_end")
    paid = call.utc_time("payment_time_begin"), call.utc_time("payment_time_end")
    order_by = call.text("order_by") or "-createTime"
    if order_by not in ("createTime", "-createTime"):
        raise bad_parameter("order_by must be createTime or -createTime")
    records = _only(
        api.orders,
        lambda r: in_scope(api, r["customer_id"], reseller),
        lambda r: _equals(r["order_id"], order_id) and _equals(r["customer_id"], customer_id),
        lambda r: _equals(r["service_type_code"], service) and _equals(r["status"], status),
        lambda r: _equals(r["order_type"], order_type),
        lambda r: _within(r["create_time"], *created) and _within(r["payment_time"], *paid),
    )
    records.sort(key=lambda r: (r["create_time"], r["order_id"]), reverse=order_by.startswith("-"))
    return call.page(records, "total_count", "order_infos")


def _order_in_scope(api: ApiData, call: Call, order_id: str) -> Record:
    reseller = scope(api, call)
    order = api.order(order_id)
    if order is None or not in_scope(api, order["customer_id"], reseller):
        raise ApiError(400, "CBC.30000010", "Invalid order.")
    return order


def show_customer_order_details(api: ApiData, call: Call) -> dict:
    order = _order_in_scope(api, call, call.path_params["order_id"])
    info = {key: value for key, value in order.items() if key not in ("enterprise_projects", "agent_pay_info")}
    info["user_name"] = api.account_name_of.get(order["customer_id"])
    info["pending_payment_end_time"] = None
    items = api.order_line_items.get(order["order_id"], [])
    body = call.page(items, "total_count", "order_line_items")
    return {"total_count": body["total_count"], "order_info": info, "order_line_items": body["order_line_items"]}


def list_order_discounts(api: ApiData, call: Call) -> dict:
    order_id = call.required("order_id")
    if api.order(order_id) is None:
        raise ApiError(400, "CBC.30000010", "Invalid order.")
    return {"discounts": api.order_discounts.get(order_id, [])}


# ----------------------------------------------------------------------------------------- monthly bills

def list_postpaid_bill_sum(api: ApiData, call: Call) -> dict:
    cycle = call.month("bill_cycle")
    bill = api.partner_bill(cycle)
    if bill is None:
        # A month without a bill (before the world, or not closed yet) reads as an empty bill.
        zero = Decimal(0)
        return {"bill_cycle": cycle, "initial_amount_due": zero, "consume_amount": zero, "refunds": zero,
                "adjustments": zero, "tax_amount": zero, "currency": CURRENCY}
    return dict(bill)


def list_subcustomer_monthly_bills(api: ApiData, call: Call) -> dict:
    reseller = scope(api, call)
    cycle = call.month("cycle")
    customer_id, service = call.text("customer_id"), call.text("cloud_service_type")
    charge_mode, bill_type = call.text("charge_mode"), call.text("bill_type")
    records = _only(
        api.customer_monthly_sums(cycle),
        lambda r: in_scope(api, r["customer_id"], reseller),
        lambda r: _equals(r["customer_id"], customer_id) and _equals(r["cloud_service_type"], service),
        lambda r: _equals(r["charge_mode"], charge_mode) and _equals(r["bill_type"], bill_type),
    )
    return {**call.page(records, "count", "bill_sums"), "currency": CURRENCY}


# ----------------------------------------------------------------------------------------- policies, discounts

def list_incentive_discount_policies(api: ApiData, call: Call) -> dict:
    call.month("time")  # the world's policies are the same every month
    service = call.text("service_type_code")
    records = _only(api.incentive_policies, lambda r: _equals(r["service_type_code"], service))
    return call.page(records, "total_count", "policies")


def list_business_discount_info(api: ApiData, call: Call) -> dict:
    item_type = call.required("quoting_item_type")
    if item_type not in ("PRODUCT_ITEM", "CATEGORY_ITEM"):
        raise bad_parameter("quoting_item_type must be PRODUCT_ITEM or CATEGORY_ITEM")
    services = {s.lower() for s in call.strings("cloud_service_types") or []}
    modes = {m.lower() for m in call.strings("charging_modes") or []}
    site = call.text("site_code")
    info = api.commercial_discounts
    items = _only(
        info["product_quoting_items" if item_type == "PRODUCT_ITEM" else "category_quoting_items"],
        lambda r: not services or r["cloud_service_type"].lower() in services,
        lambda r: not modes or r["charging_mode"].lower() in modes,
        lambda r: site is None or r["site_code"].lower() == site.lower(),
    )
    body = call.page(items, "total_count", "items", default_limit=20)
    return {
        "total_count": body["total_count"],
        "commerce_id": info["commerce_id"],
        "commerce_code": info["commerce_code"],
        "effective_time": info["effective_time"],
        "expire_time": info["expire_time"],
        "product_quoting_items": body["items"] if item_type == "PRODUCT_ITEM" else [],
        "category_quoting_items": body["items"] if item_type == "CATEGORY_ITEM" else [],
        "category_quoting_item_steps": [],
        "sites": info["sites"],
    }


# ----------------------------------------------------------------------------------------- partner account

def show_partner_consumption_quota(api: ApiData, call: Call) -> dict:
    return dict(api.consumption_quota)


def list_invoices(api: ApiData, call: Call) -> dict:
    if call.path_params["domain_id"] != call.domain_id:
        raise ApiError(403, "CBC.0151", "Access denied.")
    begin, end = call.utc_time("start_time"), call.utc_time("end_time")
    records = _only(api.invoices, lambda r: _within(r["applyTime"], begin, end))
    # This API's offset is a page number (docs/domain.md#paging), counted from 1; 0 reads as the first page.
    page_number = max(call.integer("offset", 1), 1)
    _, limit = call.paging()
    start = (page_number - 1) * limit
    return {"count": len(records) + call.total_shift, "invoices": records[start:start + limit]}


# ----------------------------------------------------------------------------------------- reference data

def list_service_types(api: ApiData, call: Call) -> dict:
    name = call.text("service_type_name")
    return call.page(_only(api.service_types, lambda r: _contains(r["service_type_name"], name)),
                     "total_count", "service_types")


def list_resource_types(api: ApiData, call: Call) -> dict:
    return call.page(list(api.resource_types), "total_count", "resource_types")


def list_measure_units(api: ApiData, call: Call) -> dict:
    return {"measure_units": list(api.measure_units)}
