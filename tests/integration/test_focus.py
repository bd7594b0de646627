"""FOCUS 1.2 exports (docs/focus.md) of a generated world closed through the pipeline with the BSS API
emulator: every rule of the specification the two views can meet, checked row by row on the views and
on the files; the sums tied to the marts per month, partner and customer; bad requests refused with
one line and exit code 2."""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from billrecon.cli import main
from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
from pipelines.runner import run_cycle
from sandbox.bss import BssEmulator
from sandbox.world import generate_world
from schemas.focus import (
    CHARGE_CATEGORIES,
    CHARGE_FREQUENCIES,
    COMMITMENT_DISCOUNT_CATEGORIES,
    PRICING_CATEGORIES,
    SERVICE_SUBCATEGORIES,
)
from tests.integration.conftest import SMALL_WORLD

VIEWS = {"partner": "focus_partner_cost", "customer": "focus_customer_billing"}

# The specification's mandatory columns (FOCUS 1.2, Cost and Usage) with their data type, and whether
# the column may hold null: ChargeClass is null unless the row corrects an invoiced period; PricingQuantity
# and PricingUnit may be null where no price applies (checked below with their own rules).
MANDATORY = {
    "BilledCost": ("Decimal", False), "BillingAccountId": ("String", False),
    "BillingAccountName": ("String", False), "BillingCurrency": ("String", False),
    "BillingPeriodEnd": ("Date/Time", False), "BillingPeriodStart": ("Date/Time", False),
    "ChargeCategory": ("String", False), "ChargeClass": ("String", True),
    "ChargeDescription": ("String", False), "ChargePeriodEnd": ("Date/Time", False),
    "ChargePeriodStart": ("Date/Time", False), "ContractedCost": ("Decimal", False),
    "EffectiveCost": ("Decimal", False), "InvoiceIssuerName": ("String", False),
    "ListCost": ("Decimal", False), "PricingQuantity": ("Decimal", True), "PricingUnit": ("String", True),
    "ProviderName": ("String", False), "PublisherName": ("String", False),
    "ServiceCategory": ("String", False), "ServiceName": ("String", False),
}
# recommended columns the views carry, never null
RECOMMENDED_NOT_NULL = ("ChargeFrequency", "ServiceSubcategory")
WAREHOUSE_TYPES = {"Decimal": "DECIMAL", "String": "VARCHAR", "Date/Time": "TIMESTAMP WITH TIME ZONE"}
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def closed_world(tmp_path_factory, world_dir):
    """The small world's closed months and its open month, run through every asset with the API."""
    root = tmp_path_factory.mktemp("focus")
    world = generate_world(SMALL_WORLD)
    world.api_data.prepare()
    with BssEmulator(world, throttle=False) as bss:
        resources = {
            "object_store": ObjectStoreResource(inbox_dir=str(world_dir)),
            "warehouse": WarehouseResource(path=str(root / "wh" / "billrecon.duckdb")),
            "reports": ReportsResource(out_dir=str(root / "reports"), focus_exports=1),
            "bss_api": BssApiResource(endpoint=bss.endpoint_url, access_key=bss.access_key,
                                      secret_key=bss.secret_key, domain_id=bss.domain_id),
        }
        for cycle in (*world.closed_months, world.open_month):
            outcome = run_cycle(cycle, resources)
            assert outcome.success, outcome.failure
    return {"world": world, "warehouse": Path(resources["warehouse"].path), "reports": root / "reports",
            "root": root}


@pytest.fixture
def con(closed_world):
    connection = duckdb.connect(str(closed_world["warehouse"]), read_only=True)
    yield connection
    connection.close()


def rows(con, view: str) -> list[dict]:
    cursor = con.execute(f"select * from marts.{VIEWS[view]}")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


# ------------------------------------------------------------------------------------ the specification

@pytest.mark.parametrize("view", VIEWS)
def test_every_mandatory_column_is_present_with_its_type_and_nullability(con, view):
    types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_schema = 'marts' and table_name = ?", [VIEWS[view]]).fetchall())
    for column, (kind, _nullable) in MANDATORY.items():
        assert types[column].startswith(WAREHOUSE_TYPES[kind]), (column, types[column])
    data = rows(con, view)
    assert len(data) > 500
    for column, (_, nullable) in MANDATORY.items():
        if not nullable:
            assert all(r[column] is not None for r in data), column
    for column in RECOMMENDED_NOT_NULL:
        assert all(r[column] is not None for r in data), column


@pytest.mark.parametrize("view", VIEWS)
def test_column_names_follow_the_naming_rules(con, view):
    names = [r[0] for r in con.execute("select column_name from information_schema.columns where table_schema = "
                                       "'marts' and table_name = ? order by ordinal_position", [VIEWS[view]]).fetchall()]
    custom = [i for i, n in enumerate(names) if n.startswith("x_")]
    assert custom and custom == list(range(custom[0], len(names))), "custom columns come after the FOCUS ones"
    for name in names[:custom[0]]:
        assert re.fullmatch(r"[A-Z][A-Za-z]*", name) and len(name) <= 50, name


@pytest.mark.parametrize("view", VIEWS)
def test_allowed_values(con, view):
    data = rows(con, view)
    pairs = {(c, s) for c, subs in SERVICE_SUBCATEGORIES.items() for s in subs}
    for r in data:
        assert r["ChargeCategory"] in CHARGE_CATEGORIES
        assert r["ChargeClass"] in (None, "Correction")
        assert r["ChargeFrequency"] in CHARGE_FREQUENCIES
        assert not (r["ChargeCategory"] == "Purchase" and r["ChargeFrequency"] == "Usage-Based")
        assert (r["ServiceCategory"], r["ServiceSubcategory"]) in pairs
        assert r["PricingCategory"] in (None, *PRICING_CATEGORIES)
        assert r["CommitmentDiscountCategory"] in (None, *COMMITMENT_DISCOUNT_CATEGORIES)
        assert re.fullmatch(r"[A-Z]{3}", r["BillingCurrency"])
        for column, value in r.items():   # a missing value is null, never an empty or blank string
            assert not (isinstance(value, str) and not value.strip()), column
    categories = {r["ChargeCategory"] for r in data}
    assert {"Usage", "Purchase"} <= categories
    if view == "partner":
        assert "Adjustment" in categories
    # a refund corrects an invoiced period when the refunded order is not one of the month's own
    orders = {(r["x_BillCycle"], r["x_TradeId"]) for r in data if r["x_BillType"] == "Expenditure"}
    refunds = [r for r in data if r["x_BillType"] == "Refund"]
    assert refunds
    for r in data:
        corrects = r["x_BillType"] == "Refund" and (r["x_BillCycle"], r["x_OriginalOrderId"]) not in orders
        assert r["ChargeClass"] == ("Correction" if corrects else None)
    # one ServiceCategory per ServiceName, one SkuId per SkuPriceId
    for key, value in (("ServiceName", "ServiceCategory"), ("SkuPriceId", "SkuId")):
        seen: dict = {}
        for r in data:
            if r[key] is not None:
                assert seen.setdefault(r[key], r[value]) == r[value], (key, r[key])


@pytest.mark.parametrize("view", VIEWS)
def test_null_rules_between_columns(con, view):
    for r in rows(con, view):
        priced = r["ChargeCategory"] in ("Usage", "Purchase") and r["ChargeClass"] != "Correction"
        if priced:
            assert r["PricingQuantity"] is not None and r["SkuId"] is not None and r["SkuPriceId"] is not None
            assert r["PricingCategory"] is not None
        assert (r["PricingUnit"] is None) == (r["PricingQuantity"] is None)
        if r["ChargeCategory"] != "Usage":
            assert r["ConsumedQuantity"] is None
        assert (r["ConsumedUnit"] is None) == (r["ConsumedQuantity"] is None)
        has_commitment = r["CommitmentDiscountId"] is not None
        assert (r["CommitmentDiscountCategory"] is not None) == has_commitment
        assert (r["CommitmentDiscountType"] is not None) == has_commitment
        if not has_commitment:
            assert r["CommitmentDiscountName"] is None and r["CommitmentDiscountQuantity"] is None
        elif r["ChargeCategory"] in ("Usage", "Purchase") and r["ChargeClass"] != "Correction":
            assert r["CommitmentDiscountQuantity"] is not None
        assert (r["CommitmentDiscountUnit"] is None) == (r["CommitmentDiscountQuantity"] is None)
        if r["SkuId"] is None:
            assert r["SkuMeter"] is None
        assert (r["RegionName"] is None) == (r["RegionId"] is None)
        assert (r["ResourceType"] is None) == (r["ResourceId"] is None)
        if r["ResourceId"] is None:
            assert r["ResourceName"] is None
        assert r["ResourceName"] is None or r["ResourceName"] != r["ResourceId"]
        if view == "partner":
            assert (r["SubAccountName"] is None) == (r["SubAccountId"] is None)
            assert (r["SubAccountType"] is None) == (r["SubAccountId"] is None)


@pytest.mark.parametrize("view", VIEWS)
def test_cost_relations(con, view):
    data = rows(con, view)
    for r in data:
        for column in ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost"):
            assert isinstance(r[column], Decimal)
        # list price is before every discount: the contracted cost is never further from zero
        if r["ListCost"] >= 0:
            assert r["ListCost"] >= r["ContractedCost"] >= 0
        else:
            assert r["ListCost"] <= r["ContractedCost"] <= 0
        if r["x_BillType"] == "Refund":
            assert r["BilledCost"] <= 0 and r["ListCost"] <= 0
            assert r["ChargeCategory"] in ("Usage", "Purchase")   # a refund keeps its charge's category
    if view == "customer":
        assert all(r["BilledCost"] == r["ContractedCost"] == r["EffectiveCost"] for r in data)


@pytest.mark.parametrize("view", VIEWS)
def test_periods_are_utc_and_the_gmt8_month_is_converted_exactly(con, closed_world, view):
    utc = dt.UTC
    for r in rows(con, view):
        year, month = map(int, r["x_BillCycle"].split("-"))
        start = dt.datetime(year, month, 1, tzinfo=utc) - dt.timedelta(hours=8)
        end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=utc) - dt.timedelta(hours=8)
        assert (r["BillingPeriodStart"], r["BillingPeriodEnd"]) == (start, end)
        assert r["ChargePeriodStart"] < r["ChargePeriodEnd"]
    first = con.execute("select min(\"BillingPeriodStart\") from marts.focus_partner_cost "
                        "where \"x_BillCycle\" = '2026-09'").fetchone()[0]
    assert first.astimezone(utc).isoformat() == "2026-08-31T16:00:00+00:00"


def test_every_service_type_of_the_api_and_the_bill_lines_has_a_focus_category(con):
    unmapped = con.execute(
        """select service_type_code from staging.api_service_type
           union select service_type_code from staging.bill_line
           except select service_type_code from core.focus_service_category""").fetchall()
    assert con.execute("select count(*) from staging.api_service_type").fetchone()[0] >= 10
    assert unmapped == []


# ------------------------------------------------------------------------------------ the two sides

def test_the_partner_view_names_huawei_cloud_the_partner_and_its_customers(con, closed_world):
    world = closed_world["world"]
    data = rows(con, "partner")
    assert {r["InvoiceIssuerName"] for r in data} == {"HUAWEI CLOUD"}
    assert {r["ProviderName"] for r in data} == {"HUAWEI CLOUD"} == {r["PublisherName"] for r in data}
    assert {(r["BillingAccountId"], r["BillingAccountName"]) for r in data} == {(world.partner_id, world.partner_name)}
    assert {r["BillingCurrency"] for r in data} == {"USD"}
    resellers = set(world.customers.filter(world.customers["indirect_partner_id"].is_not_null())["customer_id"])
    assert resellers
    for r in data:
        assert (r["SubAccountType"] == "Reseller customer") == (r["SubAccountId"] in resellers)
        assert (r["x_ResellerId"] is not None) == (r["SubAccountId"] in resellers)


def test_the_customer_view_bills_each_customer_from_the_partner(con, closed_world):
    world = closed_world["world"]
    data = rows(con, "customer")
    assert {r["InvoiceIssuerName"] for r in data} == {world.partner_name}
    assert {r["x_BillType"] for r in data} == {"Expenditure", "Refund"}
    names = dict(zip(world.customers["customer_id"], world.customers["customer_name"]))
    assert all(r["BillingAccountName"] == names[r["BillingAccountId"]] for r in data)


def test_sums_tie_to_the_marts_per_month_partner_and_customer(con):
    partner = con.execute(
        """select "x_BillCycle", "BillingAccountId", "SubAccountId", sum("BilledCost"),
                  sum("ListCost") filter (where "x_BillType" = 'Expenditure'), count(*)
           from marts.focus_partner_cost group by all order by all""").fetchall()
    customer = con.execute(
        """select "x_BillCycle", "x_PartnerId", "BillingAccountId", sum("BilledCost"),
                  sum("ListCost") filter (where "x_BillType" = 'Expenditure') from marts.focus_customer_billing
           group by all order by all""").fetchall()
    mart = con.execute(
        """select bill_cycle, customer_id, sum(amount_due + refund_amount + adjustment_amount), sum(official_amount),
                  sum(customer_charge_amount), sum(line_count)
           from marts.customer_monthly_expenditure group by all order by all""").fetchall()
    assert len(mart) > 20 and len({m[0] for m in mart}) == 2
    by_customer = {(m[0], m[1]): m for m in mart}
    assert [(p[0], p[2]) for p in partner] == list(by_customer)
    for cycle, _, customer_id, billed, listed, count in partner:
        m = by_customer[(cycle, customer_id)]
        assert (billed, listed, count) == (m[2], m[3], m[5])
    for cycle, _, customer_id, billed, listed in customer:
        m = by_customer[(cycle, customer_id)]
        assert (billed, listed) == (m[4], m[3])
    # per month and partner: one partner today, billed the month's whole amount due
    for cycle in {m[0] for m in mart}:
        assert len({p[1] for p in partner if p[0] == cycle}) == 1 == len({c[1] for c in customer if c[0] == cycle})
        assert sum(p[3] for p in partner if p[0] == cycle) == sum(m[2] for m in mart if m[0] == cycle)
        assert sum(c[3] for c in customer if c[0] == cycle) == sum(m[4] for m in mart if m[0] == cycle)


# ------------------------------------------------------------------------------------ the files

def test_the_pack_of_each_closed_month_holds_both_exports(closed_world, con):
    world = closed_world["world"]
    for cycle in world.closed_months:
        for mart in VIEWS.values():
            path = closed_world["reports"] / cycle / f"{mart}_{cycle}.parquet"
            in_file = con.execute(f"select count(*), sum(\"BilledCost\") from read_parquet('{path}')").fetchone()
            in_view = con.execute(f"select count(*), sum(\"BilledCost\") from marts.{mart} "
                                  "where \"x_BillCycle\" = ?", [cycle]).fetchone()
            assert in_file == in_view and in_file[0] > 0
    assert not list((closed_world["reports"] / world.open_month).glob("focus_*"))


@pytest.mark.parametrize("view", VIEWS)
def test_the_csv_export_writes_iso_utc_times_and_exact_decimals(closed_world, con, tmp_path, capsys, view):
    cycle = closed_world["world"].closed_months[-1]
    out = tmp_path / f"focus_{view}.csv"
    code = main(["export", "focus", "--month", cycle, "--view", view, "--out", str(out),
                 "--warehouse", str(closed_world["warehouse"])])
    assert code == 0
    with out.open(encoding="utf-8", newline="") as handle:
        data = list(csv.DictReader(handle))
    mart = VIEWS[view]
    count, billed, listed = con.execute(f"select count(*), sum(\"BilledCost\"), sum(\"ListCost\") from marts.{mart} "
                                        "where \"x_BillCycle\" = ?", [cycle]).fetchone()
    assert len(data) == count
    assert sum(Decimal(r["BilledCost"]) for r in data) == billed
    assert sum(Decimal(r["ListCost"]) for r in data) == listed
    start = dt.datetime.strptime(cycle + "-01", "%Y-%m-%d") - dt.timedelta(hours=8)
    assert {r["BillingPeriodStart"] for r in data} == {start.strftime("%Y-%m-%dT%H:%M:%SZ")}
    for r in data:
        for column in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
            assert ISO_UTC.match(r[column]), (column, r[column])
    assert f"{count} rows" in capsys.readouterr().out


def test_the_parquet_export_keeps_decimal_and_timestamp_types(closed_world, con, tmp_path):
    cycle = closed_world["world"].closed_months[0]
    out = tmp_path / "partner.parquet"
    assert main(["export", "focus", "--month", cycle, "--view", "partner", "--out", str(out),
                 "--warehouse", str(closed_world["warehouse"]),
                 "--partner", closed_world["world"].partner_id]) == 0
    types = dict(con.execute(f"select column_name, column_type from (describe select * from read_parquet('{out}'))")
                 .fetchall())
    assert types["BilledCost"] == "DECIMAL(20,8)" and types["BillingPeriodStart"] == "TIMESTAMP WITH TIME ZONE"
    assert con.execute(f"select sum(\"BilledCost\") from read_parquet('{out}')").fetchone() == con.execute(
        "select sum(\"BilledCost\") from marts.focus_partner_cost where \"x_BillCycle\" = ?", [cycle]).fetchone()
    again = tmp_path / "again.parquet"   # the same month gives the same bytes
    assert main(["export", "focus", "--month", cycle, "--view", "partner", "--out", str(again),
                 "--warehouse", str(closed_world["warehouse"])]) == 0
    assert again.read_bytes() == out.read_bytes()


# ------------------------------------------------------------------------------------ bad requests

def _refused(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_bad_requests_get_one_line_and_exit_code_2(closed_world, tmp_path, capsys):
    warehouse = str(closed_world["warehouse"])
    world = closed_world["world"]
    out = tmp_path / "f.csv"
    base = ["export", "focus", "--warehouse", warehouse, "--out", str(out)]
    assert "2031-01 is not in this warehouse" in _refused(capsys, [*base, "--month", "2031-01", "--view", "partner"])
    assert f"{world.open_month} has no partner bill file yet" in _refused(
        capsys, [*base, "--month", world.open_month, "--view", "partner"])
    assert "unknown view 'reseller'" in _refused(capsys, [*base, "--month", world.closed_months[0], "--view", "reseller"])
    assert "must end in .csv or .parquet" in _refused(
        capsys, ["export", "focus", "--warehouse", warehouse, "--out", str(tmp_path / "f.xlsx"),
                 "--month", world.closed_months[0], "--view", "partner"])
    assert "partner nobody has no lines" in _refused(
        capsys, [*base, "--month", world.closed_months[0], "--view", "partner", "--partner", "nobody"])
    missing = tmp_path / "no" / "such" / "folder" / "f.csv"
    assert "does not exist" in _refused(capsys, ["export", "focus", "--warehouse", warehouse, "--out", str(missing),
                                                 "--month", world.closed_months[0], "--view", "customer"])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert "cannot write" in _refused(capsys, ["export", "focus", "--warehouse", warehouse,
                                               "--out", str(blocker / "f.parquet"),
                                               "--month", world.closed_months[0], "--view", "partner"])
    assert "does not exist" in _refused(capsys, ["export", "focus", "--warehouse", str(tmp_path / "none.duckdb"),
                                                 "--out", str(out), "--month", world.closed_months[0],
                                                 "--view", "partner"])
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_an_unwritable_target_leaves_nothing_behind(closed_world, tmp_path, capsys):
    target = tmp_path / "existing.csv"
    target.mkdir()  # a folder where the file should go: the rename cannot replace it
    err = _refused(capsys, ["export", "focus", "--warehouse", str(closed_world["warehouse"]), "--out", str(target),
                            "--month", closed_world["world"].closed_months[0], "--view", "partner"])
    assert err.startswith("billrecon: cannot write")
    assert target.is_dir() and not list(tmp_path.glob(".*.tmp"))


def test_a_warehouse_without_the_focus_views_says_to_run_the_month_again(tmp_path, capsys):
    from pipelines.lib.warehouse import ensure_schema

    old = tmp_path / "old.duckdb"
    connection = duckdb.connect(str(old))
    ensure_schema(connection)   # the tables an older version wrote, without the FOCUS views
    connection.close()
    err = _refused(capsys, ["export", "focus", "--warehouse", str(old), "--out", str(tmp_path / "f.csv"),
                            "--month", "2026-09", "--view", "customer"])
    assert "has no FOCUS views" in err and "billrecon run --month 2026-09" in err


def test_a_file_that_is_not_a_warehouse_is_refused(tmp_path, capsys):
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("not a database\n")
    err = _refused(capsys, ["export", "focus", "--warehouse", str(bogus), "--out", str(tmp_path / "f.csv"),
                            "--month", "2026-09", "--view", "partner"])
    assert err.startswith(f"billrecon: {bogus} is not a DuckDB warehouse file")
