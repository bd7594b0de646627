"""The BSS partner API emulator as a real HTTP server, called through the official SDKs
(huaweicloudsdkbssintl, and huaweicloudsdkbss for the APIs only the China SDK models), exactly
as the pipeline calls HUAWEI CLOUD: signing, paging, scoping, throttling, faults, and amounts that
agree with the world's bill files to the last decimal."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter, defaultdict
from decimal import Decimal

import huaweicloudsdkbss.v2 as cn
import polars as pl
import pytest
import requests
from huaweicloudsdkbssintl.v2 import (
    BssintlClient,
    ListCustomerOrdersRequest,
    ListIndirectPartnersRequest,
    ListInvoicesRequest,
    ListPostpaidBillSumRequest,
    ListSubCustomerBudgetReq,
    ListSubCustomerBudgetRequest,
    ListSubCustomersRequest,
    QueryIndirectPartnersReq,
    QuerySubCustomerListReq,
    ShowCustomerOrderDetailsRequest,
    ShowPartnerConsumptionQuotaRequest,
    ShowSubCustomerBudgetRequest,
)
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServerResponseException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from sandbox import WorldConfig, generate_world
from sandbox.api_data import ApiData
from sandbox.bss import BssEmulator, FaultConfig, ThrottleConfig

WORLD = WorldConfig(seed=23, customers=24, resellers=2, closed_months=2, lines_per_month=1500,
                    first_month="2026-08", usage_export_days=4)


# ------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def world():
    return generate_world(WORLD)


@pytest.fixture(scope="module")
def bss(world):
    with BssEmulator(world, throttle=False) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def no_faults(bss):
    bss.faults = FaultConfig()
    yield
    bss.faults = FaultConfig()


def http_config(read_timeout: float = 10.0, retry_times: int = 0) -> HttpConfig:
    config = HttpConfig.get_default_config()
    config.timeout = (5, read_timeout)
    config.retry_times = retry_times
    return config


def intl_client(bss: BssEmulator, secret_key: str | None = None, access_key: str | None = None,
                config: HttpConfig | None = None) -> BssintlClient:
    credentials = GlobalCredentials(access_key or bss.access_key, secret_key or bss.secret_key, bss.domain_id)
    # No with_region(): with a domain ID and an explicit endpoint the SDK never calls IAM.
    return (BssintlClient.new_builder().with_credentials(credentials).with_endpoint(bss.endpoint_url)
            .with_http_config(config or http_config()).build())


def cn_client(bss: BssEmulator, config: HttpConfig | None = None) -> cn.BssClient:
    credentials = GlobalCredentials(bss.access_key, bss.secret_key, bss.domain_id)
    return (cn.BssClient.new_builder().with_credentials(credentials).with_endpoint(bss.endpoint_url)
            .with_http_config(config or http_config()).build())


def raw_json(response) -> dict:
    """The response body with every JSON number as an exact Decimal (the SDK turns float-typed
    model fields into floats)."""
    return json.loads(response.raw_content, parse_float=Decimal)


def self_signed(bss: BssEmulator, path: str, query: dict[str, str], *, sdk_date: dt.datetime | None = None,
                method: str = "GET") -> requests.Response:
    """A request signed with the SDK's own Signer (optionally with a chosen X-Sdk-Date), sent with
    plain `requests`, so the test sees status and headers directly."""
    headers = {"Content-Type": "application/json", "X-Domain-Id": bss.domain_id}
    if sdk_date is not None:
        headers["X-Sdk-Date"] = sdk_date.strftime("%Y%m%dT%H%M%SZ")
    request = SdkRequest(method=method, schema="http", host=bss.endpoint_url.split("//", 1)[1], resource_path=path,
                         query_params=list(query.items()), header_params=headers, body="")
    Signer(GlobalCredentials(bss.access_key, bss.secret_key, bss.domain_id)).sign(request)
    return requests.request(method, request.url, headers=request.header_params, data=request.body, timeout=10)


def scopes(world) -> list[str | None]:
    """The distributor itself (None) and each of its resellers."""
    return [None, *world.resellers["reseller_id"].to_list()]


# ------------------------------------------------------------------------------------------ signing

def test_a_correctly_signed_call_returns_the_worlds_customers(bss, world):
    client = intl_client(bss)
    seen = {}
    for reseller in scopes(world):
        response = client.list_sub_customers(ListSubCustomersRequest(
            body=QuerySubCustomerListReq(offset=0, limit=100, indirect_partner_id=reseller)))
        expected = world.customers.filter(pl.col("indirect_partner_id").eq_missing(reseller))
        assert response.count == expected.height
        assert [c.customer_id for c in response.customer_infos] == expected["customer_id"].to_list()
        for info in response.customer_infos:
            seen[info.customer_id] = info
    names = dict(zip(world.customers["customer_id"], world.customers["customer_name"]))
    assert set(seen) == set(names)
    assert all(seen[cid].customer == names[cid] and seen[cid].association_type == "3" for cid in names)

    resellers = client.list_indirect_partners(ListIndirectPartnersRequest(body=QueryIndirectPartnersReq(limit=10)))
    assert [r.indirect_partner_id for r in resellers.indirect_partners] == world.resellers["reseller_id"].to_list()


def test_a_wrong_secret_key_is_rejected_with_401(bss):
    with pytest.raises(ClientRequestException) as caught:
        intl_client(bss, secret_key=bss.secret_key + "x").list_postpaid_bill_sum(
            ListPostpaidBillSumRequest(bill_cycle="2026-08"))
    assert caught.value.status_code == 401
    assert caught.value.error_code == "CBC.0154"
    assert "signature" in caught.value.error_msg
    assert caught.value.request_id


def test_an_unknown_access_key_is_rejected_with_401(bss):
    with pytest.raises(ClientRequestException) as caught:
        intl_client(bss, access_key="AKNOTKNOWN").show_partner_consumption_quota(ShowPartnerConsumptionQuotaRequest())
    assert (caught.value.status_code, caught.value.error_code) == (401, "CBC.0154")
    assert "unknown access key" in caught.value.error_msg


def test_a_stale_sdk_date_is_rejected_even_with_a_correct_signature(bss):
    query = {"bill_cycle": "2026-08"}
    path = "/v2/bills/partner-bills/postpaid-bill-summary"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    fresh = self_signed(bss, path, query, sdk_date=now - dt.timedelta(minutes=1))
    assert fresh.status_code == 200, fresh.text   # the hand-signed request is right…
    stale = self_signed(bss, path, query, sdk_date=now - dt.timedelta(minutes=20))
    assert stale.status_code == 401                # …until its date is 20 minutes old
    assert stale.json()["error_code"] == "CBC.0154"
    assert "15 minutes" in stale.json()["error_msg"]
    assert stale.headers["X-Request-Id"]


def test_a_credential_for_another_domain_is_refused(bss):
    credentials = GlobalCredentials(bss.access_key, bss.secret_key, "another-domain")
    client = BssintlClient.new_builder().with_credentials(credentials).with_endpoint(bss.endpoint_url).build()
    with pytest.raises(ClientRequestException) as caught:
        client.list_invoices(ListInvoicesRequest())
    assert (caught.value.status_code, caught.value.error_code) == (403, "CBC.0151")


# ------------------------------------------------------------------------------------------ paging

def test_a_limit_over_the_routes_maximum_is_a_400_cbc_0100(bss):
    client = intl_client(bss)
    with pytest.raises(ClientRequestException) as caught:
        client.list_customer_orders(ListCustomerOrdersRequest(limit=101))
    assert (caught.value.status_code, caught.value.error_code) == (400, "CBC.0100")
    assert client.list_customer_orders(ListCustomerOrdersRequest(limit=100)).total_count > 0

    # ListBusinessDiscountInfo documents 1–1000.
    discounts = cn_client(bss)
    body = cn.BusinessDiscountQueryReq(quoting_item_type="CATEGORY_ITEM", limit=1000)
    # One item per service with a contract rate and charging mode.
    expected_items = 3 * bss.world.contract_discounts.height
    assert discounts.list_business_discount_info(cn.ListBusinessDiscountInfoRequest(body=body)).total_count \
        == expected_items == 27
    body.limit = 1001
    with pytest.raises(ClientRequestException) as caught:
        discounts.list_business_discount_info(cn.ListBusinessDiscountInfoRequest(body=body))
    assert (caught.value.status_code, caught.value.error_code) == (400, "CBC.0100")


def test_paging_through_every_scope_returns_each_order_exactly_once(bss, world):
    client = intl_client(bss)
    seen: Counter[str] = Counter()
    for reseller in scopes(world):
        offset, total = 0, None
        while True:
            page = client.list_customer_orders(ListCustomerOrdersRequest(
                offset=offset, limit=7, indirect_partner_id=reseller))
            total = page.total_count if total is None else total
            assert page.total_count == total
            seen.update(order.order_id for order in page.order_infos)
            offset += 7
            if offset >= total:
                break
    paid_so_far = world.orders.filter(pl.col("trade_time") <= world.api_data.as_of_file_time)
    assert set(seen) == set(paid_so_far["order_id"])
    assert max(seen.values()) == 1
    assert sum(seen.values()) == paid_so_far.height > 70


def test_an_order_and_its_details_carry_the_bill_lines_amounts(bss, world):
    month = world.closed_months[0]
    lines = world.bill_lines[month].filter(pl.col("order_type") == "New")
    line = lines.row(0, named=True)
    owner = world.api_data.reseller_of[line["customer_id"]]
    client = intl_client(bss)
    listed = client.list_customer_orders(ListCustomerOrdersRequest(order_id=line["trade_id"],
                                                                   indirect_partner_id=owner))
    assert listed.total_count == 1
    order = raw_json(listed)["order_infos"][0]
    assert order["amount_after_discount"] == line["amount_due"]
    assert order["official_amount"] == line["official_amount"]
    assert sum(d["discount_amount"] for d in order["amount_info"]["discounts"]) == line["discount_amount"]
    assert order["amount_info"]["flexipurchase_coupon_amount"] == line["cash_coupon_amount"]

    details = client.show_customer_order_details(ShowCustomerOrderDetailsRequest(
        order_id=line["trade_id"], indirect_partner_id=owner))
    assert details.total_count == 1
    assert details.order_line_items[0].product_id == line["product_id"]
    assert details.order_info.user_name == line["account_name"]


# ------------------------------------------------------------------------------------------ money

def test_postpaid_bill_summary_equals_the_sums_of_the_months_bill_lines(bss, world):
    client = intl_client(bss)
    for month in world.closed_months:
        by_type = defaultdict(Decimal)
        for row in world.bill_lines[month].select("bill_type", "amount_due").iter_rows():
            by_type[row[0]] += row[1]
        response = client.list_postpaid_bill_sum(ListPostpaidBillSumRequest(bill_cycle=month))
        assert response.bill_cycle == month and response.currency == "USD"
        assert response.consume_amount == by_type["Expenditure"]
        assert response.refunds == by_type["Refund"] < 0
        assert response.adjustments == by_type["Adjustment"]
        assert response.initial_amount_due == by_type["Expenditure"] + by_type["Refund"] + by_type["Adjustment"]
        assert response.tax_amount > 0
        # Numbers on the wire are exact decimal text, not float renderings.
        assert raw_json(response)["consume_amount"] == by_type["Expenditure"]


def test_customer_monthly_sums_add_up_to_each_customers_total_in_the_bill_file(bss, world):
    client = cn_client(bss)
    month = world.closed_months[-1]
    api_totals: dict[str, Decimal] = defaultdict(Decimal)
    for reseller in scopes(world):
        offset = 0
        while True:
            page = client.list_subcustomer_monthly_bills(cn.ListSubcustomerMonthlyBillsRequest(
                cycle=month, offset=offset, limit=50, indirect_partner_id=reseller))
            for entry in raw_json(page)["bill_sums"]:
                assert world.api_data.reseller_of[entry["customer_id"]] == reseller
                api_totals[entry["customer_id"]] += entry["amount"]
            offset += 50
            if offset >= page.count:
                break
    file_totals = defaultdict(Decimal)
    for customer_id, amount in world.bill_lines[month].select("customer_id", "amount_due").iter_rows():
        file_totals[customer_id] += amount
    assert api_totals == file_totals


def test_consumption_quota_amounts_are_strings_that_satisfy_the_documented_identity(bss):
    response = intl_client(bss).show_partner_consumption_quota(ShowPartnerConsumptionQuotaRequest())
    body = raw_json(response)
    fields = ("consumption_quota", "amount", "coupon_amount", "due_amount", "unbilled_amount",
              "used_consumption_quota")
    assert all(isinstance(body[name], str) for name in fields), body
    assert isinstance(response.due_amount, str)
    value = {name: Decimal(body[name]) for name in fields}
    assert value["used_consumption_quota"] == (value["due_amount"] + value["unbilled_amount"]
                                               - value["amount"] - value["coupon_amount"])
    assert body["currency"] == "USD" and body["measure_id"] == 1


def test_budgets_are_scoped_to_the_reseller_and_match_the_usage_export(bss, world):
    api = world.api_data
    reseller_customer = next(cid for cid, owner in api.reseller_of.items() if owner is not None)
    client = intl_client(bss)
    with pytest.raises(ClientRequestException) as caught:
        client.show_sub_customer_budget(ShowSubCustomerBudgetRequest(customer_id=reseller_customer))
    assert caught.value.error_code == "CBC.99000035"
    owner = api.reseller_of[reseller_customer]
    shown = client.show_sub_customer_budget(ShowSubCustomerBudgetRequest(customer_id=reseller_customer,
                                                                        indirect_partner_id=owner))
    assert shown.budget_type in ("MONTHLY", "PACKAGE") and shown.currency == "USD"
    if shown.budget_type == "MONTHLY":
        export = world.usage_exports[api.newest_export].filter(pl.col("customer_id") == reseller_customer)
        assert shown.used_amount == sum(export["official_amount"].to_list(), Decimal(0))

    direct = [cid for cid, who in api.reseller_of.items() if who is None]
    batch = client.list_sub_customer_budget(ListSubCustomerBudgetRequest(
        body=ListSubCustomerBudgetReq(customer_ids=[*direct, reseller_customer])))
    assert sorted(b.customer_id for b in batch.budget_infos) == sorted(direct)   # others silently dropped


def test_invoices_use_the_domain_in_the_path_and_page_numbers(bss, world):
    response = intl_client(bss).list_invoices(ListInvoicesRequest(offset=1, limit=10))
    assert response.count == len(world.api_data.invoices) >= 1
    invoice = raw_json(response)["invoices"][0]
    bill = world.api_data.partner_bill(invoice["billCycle"])
    assert invoice["taxList"][0]["taxAmount"] == bill["tax_amount"]


def test_a_change_planted_in_the_records_is_what_the_emulator_serves(world):
    planted = ApiData(world)      # a copy of the API's view, so the shared world stays clean
    month = world.closed_months[0]
    entry = planted.customer_monthly_sums(month)[0]
    entry["amount"] += Decimal("0.01")
    file_total = sum(world.bill_lines[month].filter(pl.col("customer_id") == entry["customer_id"])["amount_due"]
                     .to_list(), Decimal(0))
    with BssEmulator(world, throttle=False, api_data=planted, reseller_scoping=False) as emulator:
        page = cn_client(emulator).list_subcustomer_monthly_bills(cn.ListSubcustomerMonthlyBillsRequest(
            cycle=month, customer_id=entry["customer_id"], limit=100))
    assert sum(e["amount"] for e in raw_json(page)["bill_sums"]) == file_total + Decimal("0.01")


# ------------------------------------------------------------------------------------------ throttling

def test_a_burst_is_throttled_with_429_cbc_0250_and_retry_after(world):
    with BssEmulator(world, throttle=ThrottleConfig(default_rate=2.0)) as slow_gateway:
        path, query = "/v2/partners/credit/consumption-quota", {}
        answers = [self_signed(slow_gateway, path, query) for _ in range(5)]
        statuses = [a.status_code for a in answers]
        assert statuses[:2] == [200, 200] and 429 in statuses
        throttled = next(a for a in answers if a.status_code == 429)
        assert throttled.json()["error_code"] == "CBC.0250"
        wait = int(throttled.headers["Retry-After"])
        assert wait >= 1
        time.sleep(wait)
        assert self_signed(slow_gateway, path, query).status_code == 200

        # The SDK does not retry a POST: the first 429 surfaces as CBC.0250.
        client = intl_client(slow_gateway)
        request = ListSubCustomersRequest(body=QuerySubCustomerListReq(limit=10))
        with pytest.raises(ClientRequestException) as caught:
            for _ in range(5):
                client.list_sub_customers(request)
        assert (caught.value.status_code, caught.value.error_code) == (429, "CBC.0250")

        # Its transport retry does cover GET and honours Retry-After.
        retrying = intl_client(slow_gateway, config=http_config(retry_times=3))
        for _ in range(4):
            assert retrying.list_postpaid_bill_sum(ListPostpaidBillSumRequest(bill_cycle="2026-08")).consume_amount
        assert slow_gateway.responses_by_route[("list_postpaid_bill_sum", 429)] >= 1
        assert slow_gateway.responses_by_route[("list_postpaid_bill_sum", 200)] == 4


# ------------------------------------------------------------------------------------------ faults

def test_injected_5xx_faults_then_success_are_counted_per_route(bss):
    client = intl_client(bss)
    bss.reset_counters()
    bss.faults = FaultConfig(fail_first=2, routes=frozenset({"list_postpaid_bill_sum"}))
    failures = []
    for _ in range(2):
        with pytest.raises(ServerResponseException) as caught:
            client.list_postpaid_bill_sum(ListPostpaidBillSumRequest(bill_cycle="2026-08"))
        failures.append((caught.value.status_code, caught.value.error_code))
    assert all(status in (500, 503) and code == "CBC.0999" for status, code in failures)
    assert client.list_postpaid_bill_sum(ListPostpaidBillSumRequest(bill_cycle="2026-08")).consume_amount > 0
    assert bss.requests_by_route["list_postpaid_bill_sum"] == 3
    # Routes outside the fault's scope are unaffected.
    assert client.show_partner_consumption_quota(ShowPartnerConsumptionQuotaRequest()).currency == "USD"


def test_an_always_failing_route_never_answers(bss):
    client = intl_client(bss)
    bss.faults = FaultConfig(always_fail=frozenset({"show_partner_consumption_quota"}))
    for _ in range(3):
        with pytest.raises(ServerResponseException) as caught:
            client.show_partner_consumption_quota(ShowPartnerConsumptionQuotaRequest())
        assert caught.value.status_code == 503
    bss.faults = FaultConfig()
    assert client.show_partner_consumption_quota(ShowPartnerConsumptionQuotaRequest()).currency == "USD"


def test_a_malformed_body_reaches_the_sdk_as_an_empty_model(bss):
    bss.faults = FaultConfig(malformed_rate=1.0)
    response = intl_client(bss).list_postpaid_bill_sum(ListPostpaidBillSumRequest(bill_cycle="2026-08"))
    # The SDK swallows the parse error: status 200, every field None. Only the raw body tells.
    assert response.status_code == 200 and response.consume_amount is None
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.raw_content)


def test_a_slow_answer_times_the_client_out(bss):
    bss.faults = FaultConfig(slow_rate=1.0, slow_seconds=0.6)
    client = intl_client(bss, config=http_config(read_timeout=0.2))
    from huaweicloudsdkcore.exceptions.exceptions import ConnectionException
    with pytest.raises(ConnectionException, match="Read timed out"):
        client.show_partner_consumption_quota(ShowPartnerConsumptionQuotaRequest())


def test_a_shifting_total_changes_the_count_between_pages(bss):
    client = intl_client(bss)
    bss.faults = FaultConfig(shifting_total=True, routes=frozenset({"list_customer_orders"}))
    first = client.list_customer_orders(ListCustomerOrdersRequest(offset=0, limit=5)).total_count
    second = client.list_customer_orders(ListCustomerOrdersRequest(offset=5, limit=5)).total_count
    assert second == first + 1
