"""A China-site account pulls the BSS partner API through the China SDK (huaweicloudsdkbss) from the same
emulator as an international account, and lands the same API tables; amounts in another currency than
the account's are one finding per snapshot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.assets.api import API_ASSETS
from pipelines.lib.bss import DATASETS
from pipelines.lib.partners import FILE_VARIABLE
from pipelines.lib.warehouse import connect
from pipelines.partitions import partition_key
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


# The partner dimension lists partners.toml's accounts when the definitions load, so the China account's
# pull runs in a child process that imports them with the file set (as its code location would).
PULL = """
import json, sys
import dagster as dg
from pipelines.assets.api import API_ASSETS
from pipelines.partitions import partition_key
from pipelines.resources import BssApiResource, WarehouseResource

args = json.loads(sys.argv[1])
api = BssApiResource(endpoint=args["endpoint"], access_key=args["access_key"], secret_key=args["secret_key"],
                     domain_id=args["domain_id"], backoff_base_seconds=0.02)
result = dg.materialize(API_ASSETS, partition_key=partition_key(args["cycle"], args["partner"]),
                        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
                        resources={"warehouse": WarehouseResource(path=args["path"]), "bss_api": api})
sys.exit(0 if result.success else 1)
"""


def pull_everything(emulator: BssEmulator, path: Path, partner: str | None = None) -> None:
    """Every API asset of CYCLE into the working file at `path`, for `partner` (None: this process's account)."""
    args = {"endpoint": emulator.endpoint_url, "access_key": emulator.access_key,
            "secret_key": emulator.secret_key, "domain_id": emulator.domain_id, "cycle": CYCLE,
            "partner": partner, "path": str(path)}
    if partner is None:
        api = BssApiResource(endpoint=args["endpoint"], access_key=args["access_key"],
                             secret_key=args["secret_key"], domain_id=args["domain_id"], backoff_base_seconds=0.02)
        result = dg.materialize(API_ASSETS, partition_key=partition_key(CYCLE), run_config=QUIET,
                                resources={"warehouse": WarehouseResource(path=str(path)), "bss_api": api})
        assert result.success
        return
    child = subprocess.run([sys.executable, "-c", PULL, json.dumps(args)], capture_output=True, text=True,
                           timeout=600)
    assert child.returncode == 0, child.stderr[-3000:]


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
    intl, china = tmp_path / "intl" / "billrecon.duckdb", tmp_path / "cn" / "billrecon.duckdb"
    with BssEmulator(world, throttle=False) as emulator:
        pull_everything(emulator, intl)
        (tmp_path / "partners.toml").write_text(PARTNERS, encoding="utf-8")
        monkeypatch.setenv(FILE_VARIABLE, str(tmp_path / "partners.toml"))
        pull_everything(emulator, china, "acme-cn")

    intl_tables, china_tables = api_tables(intl), api_tables(china)
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
    assert currency_findings(intl) == []
    assert currency_findings(china) == [
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
