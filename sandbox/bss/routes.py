"""The routes the emulator serves: each API operation's method and path, by its official SDK method
name (`BssintlClient.list_sub_customers`, …), its handler (sandbox/bss/handlers.py) and its paging
limit; `resolve` finds the route of a request."""

from __future__ import annotations

from .calls import Route
from .handlers import (
    list_business_discount_info,
    list_customer_orders,
    list_incentive_discount_policies,
    list_indirect_partners,
    list_invoices,
    list_issued_partner_coupons,
    list_measure_units,
    list_order_discounts,
    list_postpaid_bill_sum,
    list_quota_coupons,
    list_resource_types,
    list_service_types,
    list_sub_customer_budget,
    list_sub_customer_coupons,
    list_sub_customers,
    list_subcustomer_monthly_bills,
    show_customer_order_details,
    show_partner_consumption_quota,
    show_sub_customer_budget,
)

ROUTES: tuple[Route, ...] = (
    Route("list_sub_customers", "POST", "/v2/partners/sub-customers/query", list_sub_customers),
    Route("list_indirect_partners", "POST", "/v2/partners/indirect-partners/query", list_indirect_partners),
    Route("show_sub_customer_budget", "GET", "/v2/partners/sub-customers/budget", show_sub_customer_budget,
          paged=False),
    Route("list_sub_customer_budget", "POST", "/v2/partners/sub-customers/budget/query", list_sub_customer_budget,
          paged=False),
    Route("list_sub_customer_coupons", "GET", "/v2/promotions/benefits/coupons", list_sub_customer_coupons),
    Route("list_issued_partner_coupons", "GET", "/v2/promotions/benefits/partner-coupons",
          list_issued_partner_coupons),
    Route("list_quota_coupons", "POST", "/v2/partners/coupon-quotas/query", list_quota_coupons),
    Route("list_customer_orders", "GET", "/v2/orders/customer-orders", list_customer_orders),
    Route("show_customer_order_details", "GET", "/v2/orders/customer-orders/details/{order_id}",
          show_customer_order_details),
    Route("list_order_discounts", "GET", "/v2/orders/customer-orders/order-discounts", list_order_discounts,
          paged=False),
    Route("list_postpaid_bill_sum", "GET", "/v2/bills/partner-bills/postpaid-bill-summary", list_postpaid_bill_sum,
          paged=False),
    Route("list_subcustomer_monthly_bills", "GET", "/v2/bills/partner-bills/subcustomer-bills/monthly-sum",
          list_subcustomer_monthly_bills),
    Route("list_incentive_discount_policies", "GET", "/v2/products/incentive-discount-policies",
          list_incentive_discount_policies),
    Route("list_business_discount_info", "POST", "/v2/promotions/business/discount-info",
          list_business_discount_info, max_limit=1000),
    Route("show_partner_consumption_quota", "GET", "/v2/partners/credit/consumption-quota",
          show_partner_consumption_quota, paged=False),
    Route("list_invoices", "GET", "/v1.0/{domain_id}/payments/intl-invoices", list_invoices),
    Route("list_service_types", "GET", "/v2/products/service-types", list_service_types),
    Route("list_resource_types", "GET", "/v2/products/resource-types", list_resource_types),
    Route("list_measure_units", "GET", "/v2/bases/measurements", list_measure_units, paged=False),
)

ROUTES_BY_NAME: dict[str, Route] = {route.name: route for route in ROUTES}


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        if route.method == method:
            match = route.pattern.match(path)
            if match:
                return route, match.groupdict()
    return None
