"""The API datasets the pipeline pulls: one declarative entry each, and the pull that reads one whole.

A dataset is either bound to a bill cycle (pulled for the partition's month: the partner's monthly
bill, customer monthly sums, orders paid in the month, incentive policies of the month) or pulled
as of now (customers, resellers, budgets, coupons, partner credit, commercial discounts, invoices,
reference data). `history=True` marks the slowly changing ones whose staging keeps one copy per
snapshot date.

Scoping (docs/domain.md#distributors-resellers-and-scope): most partner APIs answer only for the
caller's own customers unless `indirect_partner_id` names one of its resellers. A scoped dataset is
therefore pulled once for the partner itself and once per reseller (listed first), and each record
keeps the scope it came from as `_indirect_partner_id`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pipelines.lib.bss.client import BssApi, Operation
from pipelines.lib.bss.paging import PageStyle, fetch_all_pages
from schemas.bill_cycle import BillCycle

SCOPE_FIELD = "_indirect_partner_id"   # added to records of scoped datasets: the reseller asked for (None = own)
BUDGET_BATCH = 100                     # documented maximum of customer_ids per budget query (docs/domain.md#budgets)


def cycle_window_utc(cycle: BillCycle) -> tuple[str, str]:
    """The bill cycle's GMT+8 month as the API's inclusive UTC bounds ('yyyy-MM-ddTHH:mm:ssZ'): the
    API takes whole seconds, so the last second of the cycle ends it."""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return cycle.start_utc.strftime(fmt), (cycle.end_utc - dt.timedelta(seconds=1)).strftime(fmt)


@dataclass(frozen=True)
class ApiDataset:
    name: str
    operation: Operation
    title: str                         # what the data is, for asset descriptions
    grain: str                         # one record is ...
    bound_to: Literal["cycle", "now"]
    history: bool = False
    list_field: str | None = None      # None: the answer itself is the one record
    count_field: str | None = None     # None with a list_field: the list comes whole, unpaged
    page_size: int = 100               # documented maximum where known (docs/domain.md#paging)
    page_style: PageStyle = "offset"
    scoped: bool = False
    envelope_fields: tuple[str, ...] = ()   # fields of the answer copied into each record that lacks them
    params: Callable[[str | None], dict[str, Any]] = field(default=lambda cycle: {})
    custom_pull: Callable[..., Pulled] | None = None

    @property
    def route(self) -> str:
        return self.operation.route

    @property
    def source(self) -> str:
        """audit.loads source of the dataset's staging."""
        return f"api:{self.name}"


@dataclass
class Pulled:
    """A complete pull: every record, and the request that produced them (no credentials)."""

    dataset: ApiDataset
    bill_cycle: str | None
    records: list[dict[str, Any]]
    request: dict[str, Any]
    pages: int = 0
    restarts: int = 0


class Puller:
    """Pulls datasets through one `BssApi`; `page_size` (optional) caps every dataset's page size."""

    def __init__(self, api: BssApi, page_size: int | None = None, log: Callable[[str], None] | None = None):
        self.api = api
        self.page_size = page_size
        self.log = log or (lambda message: None)

    def pull(self, dataset: ApiDataset, bill_cycle: str | None = None) -> Pulled:
        if dataset.bound_to == "cycle" and not bill_cycle:
            raise ValueError(f"{dataset.name} is pulled per bill cycle: pass bill_cycle")
        cycle = bill_cycle if dataset.bound_to == "cycle" else None
        if dataset.custom_pull is not None:
            return dataset.custom_pull(self, dataset, cycle)
        params = dataset.params(cycle)
        scopes = self.reseller_scopes() if dataset.scoped else [None]
        pulled = Pulled(dataset, cycle, [], {"params": params, "page_size": self.size_of(dataset)})
        if dataset.scoped:
            pulled.request["scopes"] = scopes
        for scope in scopes:
            scoped_params = {**params, "indirect_partner_id": scope} if scope else dict(params)
            records = self.read(dataset, dataset.operation, scoped_params, pulled, dataset.list_field)
            if dataset.scoped:
                for record in records:
                    record[SCOPE_FIELD] = scope
            pulled.records.extend(records)
        return pulled

    def size_of(self, dataset: ApiDataset) -> int:
        return min(dataset.page_size, self.page_size) if self.page_size else dataset.page_size

    def read(self, dataset: ApiDataset, operation: Operation, params: dict[str, Any], pulled: Pulled,
             list_field: str | None) -> list[dict[str, Any]]:
        """The records of one request (all its pages), envelope fields copied in."""
        envelope: dict[str, Any] = {}
        if list_field is None:
            answer = self.api.call(operation, params)
            pulled.pages += 1
            return [answer]
        if dataset.count_field is None:
            answer = self.api.call(operation, params)
            pulled.pages += 1
            records, envelope = list(answer.get(list_field) or []), answer
        else:
            def fetch_page(offset: int, limit: int) -> dict[str, Any]:
                answer = self.api.call(operation, {**params, "offset": offset, "limit": limit})
                envelope.update({k: answer.get(k) for k in dataset.envelope_fields if k in answer})
                return answer

            paged = fetch_all_pages(
                fetch_page, route=operation.route, list_field=list_field, count_field=dataset.count_field,
                page_size=self.size_of(dataset), style=dataset.page_style,
                on_restart=lambda problem: self.log(f"{operation.route}: {problem}; reading the list again"),
            )
            pulled.pages += paged.pages
            pulled.restarts += paged.restarts
            records = paged.records
        for record in records:
            for name in dataset.envelope_fields:
                if record.get(name) is None and envelope.get(name) is not None:
                    record[name] = envelope[name]
        return records

    def reseller_scopes(self) -> list[str | None]:
        """The partner itself (None) and each of its resellers (indirect partners)."""
        holder = Pulled(RESELLERS, None, [], {})
        resellers = self.read(RESELLERS, RESELLERS.operation, {}, holder, RESELLERS.list_field)
        return [None, *sorted({r["indirect_partner_id"] for r in resellers if r.get("indirect_partner_id")})]


# ------------------------------------------------------------------------------------------ custom pulls

def _pull_budgets(puller: Puller, dataset: ApiDataset, cycle: str | None) -> Pulled:
    """The budget query takes customer IDs (≤100 per call): list each scope's customers, then ask
    for their budgets in batches. Customers without a budget simply do not come back."""
    scopes = puller.reseller_scopes()
    pulled = Pulled(dataset, None, [], {"params": {}, "scopes": scopes, "batch_size": BUDGET_BATCH,
                                        "customers_from": CUSTOMERS.route})
    for scope in scopes:
        scope_params = {"indirect_partner_id": scope} if scope else {}
        customers = puller.read(CUSTOMERS, CUSTOMERS.operation, scope_params, pulled, CUSTOMERS.list_field)
        ids = sorted({c["customer_id"] for c in customers if c.get("customer_id")})
        for start in range(0, len(ids), BUDGET_BATCH):
            params = {**scope_params, "customer_ids": ids[start:start + BUDGET_BATCH]}
            for record in puller.read(dataset, dataset.operation, params, pulled, dataset.list_field):
                record[SCOPE_FIELD] = scope
                pulled.records.append(record)
    return pulled


QUOTING_ITEM_LISTS = {"PRODUCT_ITEM": "product_quoting_items", "CATEGORY_ITEM": "category_quoting_items"}
QUOTING_TYPE_FIELD = "_quoting_item_type"


def _pull_business_discounts(puller: Puller, dataset: ApiDataset, cycle: str | None) -> Pulled:
    """Commercial discount items come in two lists, product items and category items, each asked
    for (and paged) on its own with quoting_item_type."""
    pulled = Pulled(dataset, None, [], {"params": {"quoting_item_type": list(QUOTING_ITEM_LISTS)},
                                        "page_size": puller.size_of(dataset)})
    for item_type, list_field in QUOTING_ITEM_LISTS.items():
        for record in puller.read(dataset, dataset.operation, {"quoting_item_type": item_type}, pulled, list_field):
            record[QUOTING_TYPE_FIELD] = item_type
            pulled.records.append(record)
    return pulled


def _orders_paid_in(cycle: str | None) -> dict[str, Any]:
    begin, end = cycle_window_utc(BillCycle.parse(cycle))
    # oldest first: orders paid while the pull runs land on the last page, not in the middle
    return {"payment_time_begin": begin, "payment_time_end": end, "order_by": "createTime"}


# ------------------------------------------------------------------------------------------ the registry

def _intl(method: str, http_method: str, path: str, request_class: str, body_class: str | None = None) -> Operation:
    return Operation("intl", method, http_method, path, request_class, body_class)


def _cn(method: str, http_method: str, path: str, request_class: str, body_class: str | None = None) -> Operation:
    return Operation("cn", method, http_method, path, request_class, body_class)


RESELLERS = ApiDataset(
    "resellers", _intl("list_indirect_partners", "POST", "/v2/partners/indirect-partners/query",
                       "ListIndirectPartnersRequest", "QueryIndirectPartnersReq"),
    title="The distributor's resellers (indirect partners)", grain="reseller", bound_to="now",
    list_field="indirect_partners", count_field="count")

CUSTOMERS = ApiDataset(
    "customers", _intl("list_sub_customers", "POST", "/v2/partners/sub-customers/query",
                       "ListSubCustomersRequest", "QuerySubCustomerListReq"),
    title="The partner's customers, its own and its resellers'", grain="customer", bound_to="now",
    history=True, list_field="customer_infos", count_field="count", scoped=True)

BUDGETS = ApiDataset(
    "budgets", _intl("list_sub_customer_budget", "POST", "/v2/partners/sub-customers/budget/query",
                     "ListSubCustomerBudgetRequest", "ListSubCustomerBudgetReq"),
    title="Customer budgets with the spend HUAWEI CLOUD counts against them", grain="customer budget",
    bound_to="now", history=True, list_field="budget_infos", scoped=True,
    envelope_fields=("measure_id", "currency"), custom_pull=_pull_budgets)

COUPONS = ApiDataset(
    # the China SDK's request models indirect_partner_id on this path; the intl one does not
    "coupons", _cn("list_sub_customer_coupons", "GET", "/v2/promotions/benefits/coupons",
                   "ListSubCustomerCouponsRequest"),
    title="Coupons held by the partner's customers", grain="coupon", bound_to="now", history=True,
    list_field="user_coupons", count_field="count", scoped=True)

PARTNER_COUPONS = ApiDataset(
    "partner_coupons", _cn("list_issued_partner_coupons", "GET", "/v2/promotions/benefits/partner-coupons",
                           "ListIssuedPartnerCouponsRequest"),
    title="Coupons the partner and its resellers issued to customers", grain="issued coupon", bound_to="now",
    history=True, list_field="user_coupons", count_field="total_count", scoped=True)

ORDERS = ApiDataset(
    "orders", _intl("list_customer_orders", "GET", "/v2/orders/customer-orders", "ListCustomerOrdersRequest"),
    title="Yearly/monthly orders paid in the cycle, with their discount types", grain="order",
    bound_to="cycle", list_field="order_infos", count_field="total_count", scoped=True, params=_orders_paid_in)

PARTNER_MONTHLY_BILL = ApiDataset(
    "partner_monthly_bill", _intl("list_postpaid_bill_sum", "GET", "/v2/bills/partner-bills/postpaid-bill-summary",
                                  "ListPostpaidBillSumRequest"),
    title="HUAWEI CLOUD's monthly bill to the partner", grain="bill cycle", bound_to="cycle",
    params=lambda cycle: {"bill_cycle": cycle})

CUSTOMER_MONTHLY_SUMS = ApiDataset(
    "customer_monthly_sums", _cn("list_subcustomer_monthly_bills", "GET",
                                 "/v2/bills/partner-bills/subcustomer-bills/monthly-sum",
                                 "ListSubcustomerMonthlyBillsRequest"),
    title="Each customer's monthly sums", grain="customer × service type × resource type × bill type × charge mode",
    bound_to="cycle", list_field="bill_sums", count_field="count", scoped=True, envelope_fields=("currency",),
    params=lambda cycle: {"cycle": cycle})

INCENTIVE_POLICIES = ApiDataset(
    "incentive_policies", _cn("list_incentive_discount_policies", "GET", "/v2/products/incentive-discount-policies",
                              "ListIncentiveDiscountPoliciesRequest"),
    title="Incentive and discount policy per service type in force at the end of the cycle",
    grain="service type", bound_to="cycle", list_field="policies", count_field="total_count",
    params=lambda cycle: {"time": cycle})

BUSINESS_DISCOUNTS = ApiDataset(
    "business_discounts", _cn("list_business_discount_info", "POST", "/v2/promotions/business/discount-info",
                              "ListBusinessDiscountInfoRequest", "BusinessDiscountQueryReq"),
    title="The partner's framework commercial discount (product and category quoting items)",
    grain="quoting item", bound_to="now", count_field="total_count", page_size=1000,
    envelope_fields=("commerce_id", "commerce_code"),
    custom_pull=_pull_business_discounts)

PARTNER_CREDIT = ApiDataset(
    "partner_credit", _intl("show_partner_consumption_quota", "GET", "/v2/partners/credit/consumption-quota",
                            "ShowPartnerConsumptionQuotaRequest"),
    title="The partner's credit: consumption quota, balances, amount due and unbilled spend",
    grain="one reading of the partner's credit", bound_to="now", history=True)

INVOICES = ApiDataset(
    "invoices", _intl("list_invoices", "GET", "/v1.0/{domain_id}/payments/intl-invoices", "ListInvoicesRequest"),
    title="HUAWEI CLOUD's invoices to the partner", grain="invoice", bound_to="now",
    list_field="invoices", count_field="count", page_style="page_number")

SERVICE_TYPES = ApiDataset(
    "service_types", _intl("list_service_types", "GET", "/v2/products/service-types", "ListServiceTypesRequest"),
    title="Cloud service types", grain="service type", bound_to="now",
    list_field="service_types", count_field="total_count")

RESOURCE_TYPES = ApiDataset(
    "resource_types", _intl("list_resource_types", "GET", "/v2/products/resource-types", "ListResourceTypesRequest"),
    title="Resource types", grain="resource type", bound_to="now",
    list_field="resource_types", count_field="total_count")

MEASURE_UNITS = ApiDataset(
    "measure_units", _intl("list_measure_units", "GET", "/v2/bases/measurements", "ListMeasureUnitsRequest"),
    title="Measurement units", grain="measurement unit", bound_to="now", list_field="measure_units")

DATASETS: dict[str, ApiDataset] = {d.name: d for d in (
    CUSTOMERS, RESELLERS, BUDGETS, COUPONS, PARTNER_COUPONS, ORDERS, PARTNER_MONTHLY_BILL, CUSTOMER_MONTHLY_SUMS,
    INCENTIVE_POLICIES, BUSINESS_DISCOUNTS, PARTNER_CREDIT, INVOICES, SERVICE_TYPES, RESOURCE_TYPES, MEASURE_UNITS,
)}
