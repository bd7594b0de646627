"""The FOCUS models (sql/core/focus_*.sql, sql/marts/focus_*.sql) on a hand-built warehouse: each kind of
HUAWEI CLOUD bill line becomes the FOCUS row docs/focus.md describes, value by value; the data file
mapping service types to FOCUS service categories covers every service type the sandbox and the BSS
API emulator know, and a wrong pair in it is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pipelines.lib.focus import load_seeds, read_service_categories
from sandbox.anomalies_files import UNSOLD_SERVICES
from sandbox.catalog import SERVICES
from tests.unit.test_reconciliation_sql import bill_file, insert
from tests.unit.warehouse_models import build_every_model

D = Decimal
UTC = dt.UTC
CYCLE = "2026-09"


def line(con, trade_id: str, bill_type: str, billing_mode: int, official: str, due: str, **values) -> None:
    trade_time = values.pop("trade_time", dt.datetime(2026, 9, 10, 2, 0, tzinfo=UTC))
    insert(con, "staging.bill_line", bill_cycle=CYCLE, customer_id=values.pop("customer", "c2"),
           customer_name="Customer", partner_id=values.pop("partner", "P1"), partner_name="Partner One",
           bill_type=bill_type, billing_mode=billing_mode, service_type_code=values.pop("service", "hws.service.type.ec2"),
           service_type_name="Elastic Cloud Server", trade_id=trade_id, trade_time=trade_time,
           trade_date_local=(trade_time + dt.timedelta(hours=8)).date(), official_amount=D(official),
           discount_amount=D(official) - D(due), amount_due=D(due), product_id="prod-1", product_name="ECS",
           **values)


def build(con) -> None:
    bill_file(con, CYCLE)
    build_every_model(con, CYCLE)


def focus_rows(con, mart: str) -> dict[str, dict]:
    cursor = con.execute(f"select * from marts.{mart}")
    names = [d[0] for d in cursor.description]
    return {row["x_TradeId"]: row for row in (dict(zip(names, r)) for r in cursor.fetchall())}


def world(con) -> None:
    insert(con, "staging.api_indirect_partner", indirect_partner_id="R1", name="Reseller One")
    line(con, "ORD1", "Expenditure", 0, "100", "90", customer="c1", partner="R1", period_num=1, period_unit="Month",
         order_type="New", resource_id="i-1", resource_name="web-1", resource_type_code="hws.resource.type.vm",
         resource_type_name="ECS", region_code="ap-southeast-1", cash_coupon_amount=D("20"), credit_amount=D("70"),
         discount_types="605")
    line(con, "REF1", "Refund", 0, "-40", "-36", customer="c1", partner="R1", original_order_id="ORD1")
    line(con, "REF0", "Refund", 0, "-50", "-45", original_order_id="ORD0")
    line(con, "USE1", "Expenditure", 1, "2", "2", usage_amount=D("5"), usage_unit="GB-hour", usage_type="capacity",
         is_spot="Y", resource_id="v-1", resource_name="v-1", resource_type_code="hws.resource.type.volume",
         service="hws.service.type.ebs")
    line(con, "ADJ1", "Adjustment", 1, "0", "-3.5")
    line(con, "RI1", "Expenditure", 3, "3.096", "3.096", usage_amount=D("24"), usage_unit="Hour",
         resource_id="ri-1", resource_name="ri c7", service="hws.service.type.ec2")


def test_each_kind_of_line_becomes_its_focus_row(con):
    world(con)
    build(con)
    rows = focus_rows(con, "focus_partner_cost")
    assert set(rows) == {"ORD1", "REF1", "REF0", "USE1", "ADJ1", "RI1"}
    month_start, month_end = dt.datetime(2026, 8, 31, 16, tzinfo=UTC), dt.datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert {(r["BillingPeriodStart"], r["BillingPeriodEnd"]) for r in rows.values()} == {(month_start, month_end)}
    # the distributor is billed for its reseller's customers too; the reseller is named beside
    assert {(r["BillingAccountId"], r["BillingAccountName"]) for r in rows.values()} == {("P1", "Partner One")}
    assert (rows["ORD1"]["SubAccountType"], rows["ORD1"]["x_ResellerId"]) == ("Reseller customer", "R1")
    assert (rows["USE1"]["SubAccountType"], rows["USE1"]["x_ResellerId"]) == ("Customer", None)
    assert {r["BillingCurrency"] for r in rows.values()} == {"USD"}

    order = rows["ORD1"]
    assert (order["ChargeCategory"], order["ChargeClass"], order["ChargeFrequency"]) == ("Purchase", None, "One-Time")
    assert (order["ChargePeriodStart"], order["ChargePeriodEnd"]) == (
        dt.datetime(2026, 9, 10, 2, tzinfo=UTC), dt.datetime(2026, 10, 10, 2, tzinfo=UTC))
    assert (order["ListCost"], order["ContractedCost"], order["BilledCost"], order["EffectiveCost"]) == (
        D("100"), D("90"), D("90"), D("70"))
    assert (order["PricingQuantity"], order["PricingUnit"], order["PricingCategory"]) == (D("1"), "Month", "Standard")
    assert order["CommitmentDiscountId"] is None and order["ConsumedQuantity"] is None
    assert (order["ServiceCategory"], order["ServiceSubcategory"]) == ("Compute", "Virtual Machines")
    assert (order["ResourceId"], order["ResourceName"], order["ResourceType"]) == ("i-1", "web-1", "ECS")
    assert (order["RegionId"], order["RegionName"]) == ("ap-southeast-1", "ap-southeast-1")
    assert (order["x_DiscountTypes"], order["x_CashCouponAmount"]) == ("605", D("20"))

    # a refund keeps its charge's category; it corrects an invoiced period only when its order is older
    assert (rows["REF1"]["ChargeCategory"], rows["REF1"]["ChargeClass"], rows["REF1"]["BilledCost"]) == (
        "Purchase", None, D("-36"))
    # the refunded order's quantity, given back
    assert (rows["REF1"]["PricingQuantity"], rows["REF1"]["PricingUnit"]) == (D("-1"), "Month")
    assert (rows["REF0"]["PricingQuantity"], rows["REF0"]["PricingUnit"]) == (None, None)
    assert (rows["REF0"]["ChargeCategory"], rows["REF0"]["ChargeClass"], rows["REF0"]["ListCost"]) == (
        "Purchase", "Correction", D("-50"))
    local_day = (dt.datetime(2026, 9, 9, 16, tzinfo=UTC), dt.datetime(2026, 9, 10, 16, tzinfo=UTC))
    assert (rows["REF0"]["ChargePeriodStart"], rows["REF0"]["ChargePeriodEnd"]) == local_day

    usage = rows["USE1"]
    assert (usage["ChargeCategory"], usage["ChargeFrequency"], usage["PricingCategory"]) == (
        "Usage", "Usage-Based", "Dynamic")
    assert (usage["ConsumedQuantity"], usage["ConsumedUnit"], usage["PricingQuantity"], usage["PricingUnit"]) == (
        D("5"), "GB-Hours", D("5"), "GB-Hours")
    assert (usage["ChargePeriodStart"], usage["ChargePeriodEnd"]) == local_day
    assert usage["ResourceName"] is None   # it only repeated the id
    assert (usage["ServiceCategory"], usage["ServiceSubcategory"]) == ("Storage", "Block Storage")

    adjustment = rows["ADJ1"]
    assert (adjustment["ChargeCategory"], adjustment["ChargeClass"], adjustment["ChargeFrequency"]) == (
        "Adjustment", None, "One-Time")
    assert (adjustment["PricingQuantity"], adjustment["PricingUnit"], adjustment["SkuId"],
            adjustment["PricingCategory"]) == (None, None, None, None)
    assert adjustment["BilledCost"] == D("-3.5") == adjustment["EffectiveCost"]

    reserved = rows["RI1"]
    assert (reserved["ChargeCategory"], reserved["ChargeFrequency"]) == ("Purchase", "Recurring")
    assert (reserved["CommitmentDiscountId"], reserved["CommitmentDiscountName"], reserved["CommitmentDiscountCategory"],
            reserved["CommitmentDiscountType"], reserved["CommitmentDiscountQuantity"],
            reserved["CommitmentDiscountUnit"]) == ("ri-1", "ri c7", "Usage", "Reserved Instance", D("24"), "Hours")


def test_the_customer_view_bills_the_agreed_price_and_leaves_huawei_settlement_out(con):
    world(con)
    insert(con, "staging.customer_discount", customer_id="c1", service_type_code="*", resource_type_code="*",
           discount_rate=D("0.1"), valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2026, 12, 31))
    build(con)
    rows = focus_rows(con, "focus_customer_billing")
    assert set(rows) == {"ORD1", "REF1", "REF0", "USE1", "RI1"}   # adjustments stay with HUAWEI CLOUD
    order = rows["ORD1"]
    assert (order["BillingAccountId"], order["InvoiceIssuerName"], order["ProviderName"]) == (
        "c1", "Partner One", "HUAWEI CLOUD")
    assert (order["ListCost"], order["BilledCost"], order["ContractedCost"], order["EffectiveCost"]) == (
        D("100"), D("90"), D("90"), D("90"))
    assert rows["REF1"]["BilledCost"] == D("-36")
    assert rows["USE1"]["BilledCost"] == D("2")   # no agreement: list price
    assert not any(name.startswith("x_Cash") or name == "x_DiscountTypes" for name in order)


def test_the_currency_is_the_one_huawei_clouds_monthly_bill_names(con):
    world(con)
    for fetched, currency in ((dt.datetime(2026, 10, 5, tzinfo=UTC), "USD"), (dt.datetime(2026, 10, 6, tzinfo=UTC), "CNY")):
        insert(con, "staging.api_partner_monthly_bill", bill_cycle=CYCLE, fetched_at=fetched, consume_amount=D("0"),
               refunds=D("0"), adjustments=D("0"), initial_amount_due=D("0"), currency=currency)
    build(con)
    assert {r["BillingCurrency"] for r in focus_rows(con, "focus_customer_billing").values()} == {"CNY"}


def test_without_the_api_the_currency_is_the_account_s_and_without_either_usd(con):
    world(con)
    build(con)
    assert {r["BillingCurrency"] for r in focus_rows(con, "focus_partner_cost").values()} == {"USD"}
    load_seeds(con, "CNY")  # as the run writes it for an account of partners.toml
    assert {r["BillingCurrency"] for r in focus_rows(con, "focus_partner_cost").values()} == {"CNY"}
    assert {r["BillingCurrency"] for r in focus_rows(con, "focus_customer_billing").values()} == {"CNY"}
    insert(con, "staging.api_partner_monthly_bill", bill_cycle=CYCLE, fetched_at=dt.datetime(2026, 10, 5, tzinfo=UTC),
           consume_amount=D("0"), refunds=D("0"), adjustments=D("0"), initial_amount_due=D("0"), currency="USD")
    # what HUAWEI CLOUD's monthly bill names wins (a different one is API.CURRENCY, an error of the run)
    assert {r["BillingCurrency"] for r in focus_rows(con, "focus_partner_cost").values()} == {"USD"}


def test_every_service_type_the_sandbox_and_the_api_know_has_a_focus_category():
    # the emulator lists the catalogue's services (ServiceTypes); the anomalies bill three more
    mapped = {row["service_type_code"] for row in read_service_categories()}
    known = {code for code, _, _ in SERVICES} | set(UNSOLD_SERVICES)
    assert known <= mapped, sorted(known - mapped)


def test_a_service_category_focus_does_not_allow_is_refused(tmp_path):
    seed = tmp_path / "focus_service_category.csv"
    seed.write_text("service_type_code,service_category,service_subcategory\n"
                    "hws.service.type.ec2,Compute,Virtual Machines\n"
                    "hws.service.type.obs,Storage,Blob Storage\n", encoding="utf-8")
    with pytest.raises(ValueError, match="hws.service.type.obs: Storage / Blob Storage"):
        read_service_categories(seed)
