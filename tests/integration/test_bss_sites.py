"""A China-site account pulls the BSS partner API through the China SDK (huaweicloudsdkbss) from the same
emulator as an international account, and lands the same API tables; amounts in another currency than
the account's are one finding per snapshot."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from pipelines.assets.api import API_ASSETS
from pipelines.lib.bss import DATASETS
from pipelines.lib.partners import FILE_VARIABLE
from pipelines.lib.warehouse import connect
from pipelines.resources import BssApiResource, WarehouseResource
from sandbox import WorldConfig, generate_world
from sandbox.bss import BssEmulator

WORLD = WorldConfig(seed=31, customers=12, resellers=2, closed_months=1, lines_per_month=400,
                    first_month="2026-09", usage_export_days=2)
CYCLE = "2026-09"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
PARTNERS = """
[[partner]]
id = "acme-cn"
name = "ACME Cloud (China)"
site = "cn"
currency = "CNY"
[partner.files]
inbox = "inbox"
"""
# what differs between two pulls of the same data: when and by which run it was pulled or staged
LINEAGE = {"load_id", "src_snapshot", "src_sha256", "snapshot_date", "fetched_at"}


def pull_everything(emulator: BssEmulator, warehouse: WarehouseResource) -> None:
    api = BssApiResource(endpoint=emulator.endpoint_url, access_key=emulator.access_key,
                         secret_key=emulator.secret_key, domain_id=emulator.domain_id, backoff_base_seconds=0.02)
    result = dg.materialize(API_ASSETS, partition_key=CYCLE, run_config=QUIET,
                            resources={"warehouse": warehouse, "bss_api": api})
    assert result.success


def api_tables(path) -> dict[str, list[tuple]]:
    con = connect(path, read_only=True)
    try:
        tables = [name for (name,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'staging' and table_name like 'api_%' "
            "order by 1").fetchall()]
        found = {}
        for table in tables:
            columns = [c for (c,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'staging' and table_name = ? "
                "order by column_index", [table]).fetchall() if c not in LINEAGE]
            listed = ", ".join(f'"{c}"' for c in columns)
            found[table] = con.execute(f"select {listed} from staging.{table} order by all").fetchall()
        return found
    finally:
        con.close()


def snapshot_sdk_methods(landing) -> dict[str, str]:
    methods = {}
    for path in sorted((landing / "api").rglob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        methods[document["dataset"]] = document["sdk_method"]
    return methods


def test_a_china_site_account_lands_the_same_api_tables_through_the_china_sdk(tmp_path, monkeypatch):
    world = generate_world(WORLD)
    world.api_data.prepare()
    intl = WarehouseResource(path=str(tmp_path / "intl" / "billrecon.duckdb"))
    china = WarehouseResource(path=str(tmp_path / "cn" / "billrecon.duckdb"), partner_id="acme-cn")
    with BssEmulator(world, throttle=False) as emulator:
        pull_everything(emulator, intl)
        (tmp_path / "partners.toml").write_text(PARTNERS, encoding="utf-8")
        monkeypatch.setenv(FILE_VARIABLE, str(tmp_path / "partners.toml"))
        pull_everything(emulator, china)

    intl_tables, china_tables = api_tables(intl.path), api_tables(china.path)
    assert set(china_tables) == set(intl_tables) and len(intl_tables) >= len(DATASETS)
    assert sum(len(rows) for rows in intl_tables.values()) > 100
    for table, rows in intl_tables.items():
        assert china_tables[table] == rows, table

    # each snapshot names the SDK that made its calls: the China one wherever it models the call
    assert snapshot_sdk_methods(tmp_path / "intl" / "landing")["customers"] == "intl.list_sub_customers"
    china_methods = snapshot_sdk_methods(tmp_path / "cn" / "landing")
    assert {name for name, method in china_methods.items() if method.startswith("intl.")} == {
        "budgets", "partner_monthly_bill", "partner_credit", "invoices"}
    assert china_methods["customers"] == "cn.list_sub_customers"
    assert china_methods["orders"] == "cn.list_customer_orders"

    # the emulator's amounts are USD: the CNY account gets one API.CURRENCY error per dataset carrying them
    assert currency_findings(intl.path) == []
    assert currency_findings(china.path) == [
        (f"api:{name}", "error") for name in sorted(("budgets", "coupons", "customer_monthly_sums", "orders",
                                                     "partner_credit", "partner_monthly_bill"))]


def currency_findings(path) -> list[tuple]:
    con = connect(path, read_only=True)
    try:
        return con.execute("select source, severity from audit.findings where rule_id = 'API.CURRENCY' "
                           "order by source").fetchall()
    finally:
        con.close()


@pytest.fixture(autouse=True)
def _no_partners_file(monkeypatch):
    monkeypatch.delenv(FILE_VARIABLE, raising=False)
