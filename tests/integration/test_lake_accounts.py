"""Two partner accounts' closed months into one DuckLake at once, each equal to the same month built
without a lake (README: Scale out). The accounts are those of `billrecon demo --lake`: acme-intl (site
intl, English headers, USD) and acme-cn (site cn, Chinese headers, CNY), their files under two prefixes
of one bucket on the moto S3 server, each with its own BSS API emulator, the lake's catalog on the test
PostgreSQL and its files in another bucket of the S3 server."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import duckdb
import polars as pl
import pytest

from billrecon.lake_demo import ACCOUNTS, partner_entry, run_environment
from pipelines.lib import lakehouse
from pipelines.lib.lakehouse import ACCOUNT_COLUMN
from pipelines.lib.partners import SITES
from sandbox.bss import BssEmulator
from sandbox.objectstore import make_s3_client, upload_tree
from sandbox.world import WorldConfig, generate_world
from sandbox.writer import write_world
from tests.integration.test_lake_warehouse import (
    PER_RUN,
    file_month,
    file_tables,
    lake_month,
    published_tables,
    s3_lake_settings,
)

MONTHS = ("2026-08", "2026-09")
BUCKET = "lake-accounts"
# a few hundred lines a month, so that four runs at once on two cores take minutes
WORLD = WorldConfig(seed=21, customers=5, resellers=1, closed_months=2, lines_per_month=300, first_month=MONTHS[0],
                    usage_export_days=1)
# besides PER_RUN, what the audit tables record of the run itself: its loads' ids and the times it acted
AUDIT_PER_RUN = (*PER_RUN, "load_id", "loaded_at", "held_at", "released_at", "restated_at", "replaces_landed_at")
FILE_TOTALS = """select bill_cycle, sum(amount_due), sum(customer_charge_amount), sum(margin_amount)
                 from marts.customer_monthly_expenditure group by all"""
LAKE_TOTALS = f"""select a.currency, e.bill_cycle, sum(e.amount_due), sum(e.customer_charge_amount), sum(e.margin_amount)
                  from marts.customer_monthly_expenditure e join marts.partner_account a using ({ACCOUNT_COLUMN})
                  group by all"""


@pytest.fixture(scope="module")
def worlds():
    """Each account's world: its own seed and the headers of its site."""
    return {account.id: generate_world(replace(WORLD, seed=WORLD.seed + account.seed_offset,
                                               header_language=SITES[account.site].header_language))
            for account in ACCOUNTS}


@pytest.fixture(scope="module")
def accounts_env(worlds, s3_server, postgres_server, tmp_path_factory):
    """partners.toml naming both accounts and the environment of their runs into a new lake (its files in
    another bucket of the S3 server), as the lake demo sets it up; the BSS API emulators serve while the
    module's tests run."""
    client = make_s3_client(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key)
    root = tmp_path_factory.mktemp("lake-accounts")
    entries, keys = [], {}
    with ExitStack() as emulators:
        for account in ACCOUNTS:
            folder = root / "worlds" / account.id
            write_world(worlds[account.id], folder)
            upload_tree(client, BUCKET, folder, prefix=f"{account.id}/")
            bss = emulators.enter_context(BssEmulator(worlds[account.id], throttle=False))
            entry, account_keys = partner_entry(account, BUCKET, s3_server, bss)
            entries.append(entry)
            keys.update(account_keys)
        (root / "partners.toml").write_text("\n".join(entries), encoding="utf-8")
        lake = s3_lake_settings(postgres_server.create_database("lake_accounts"), s3_server, "lake-accounts-data")
        yield root, {**run_environment(root, root / "partners.toml", lake["BILLRECON_WAREHOUSE"], keys), **lake}


def start_run(root: Path, env: dict[str, str], account: str, month: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "billrecon.cli", "run", "--month", month], cwd=root,
                            env={**env, "BILLRECON_PARTNER_ID": account}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def embedded_environment(root: Path, lake_env: dict[str, str]) -> dict[str, str]:
    """The same accounts and sources, each account's months built into its own DuckDB file under `root`."""
    env = {name: value for name, value in lake_env.items()
           if not name.startswith("BILLRECON_LAKE_") and name != "BILLRECON_WORKING_WAREHOUSE"}
    return {**env, "BILLRECON_WAREHOUSE": str(root / "warehouse" / "billrecon.duckdb"),
            "BILLRECON_REPORTS_DIR": str(root / "reports")}


def test_four_account_months_at_once_into_the_lake_each_equal_to_the_month_built_alone(accounts_env, worlds):
    """The four account-months start at once, each its own `billrecon run --month M` process with
    BILLRECON_PARTNER_ID set. Different accounts run side by side; one account's two months share its
    working file, so they queue on its lease and run one after the other, in whichever order took the
    lease first. A month's refunds look up the orders of the months the working file already holds, so
    each account's months are then built into a DuckDB file without a lake in that same order (the
    order of the account's snapshots in the lake)."""
    root, env = accounts_env
    runs = {(account.id, month): start_run(root, env, account.id, month) for account in ACCOUNTS for month in MONTHS}
    outputs = {key: process.communicate(timeout=1200)[0] for key, process in runs.items()}

    # every run exits 0, also acme-cn's: its month is built and published, but not ready to close (the
    # sandbox's amounts are USD, its account's currency CNY: API.CURRENCY), which is a finding, not a failure
    for key, process in runs.items():
        assert process.returncode == 0 and "Traceback" not in outputs[key], (key, outputs[key])
    lake = lakehouse.connect(lakehouse.LakeSettings.from_env(env), read_only=True)
    snapshots = lakehouse.run_snapshots(lake)
    assert sorted((run[ACCOUNT_COLUMN], run["bill_cycle"]) for run in snapshots) == sorted(runs)
    order = {account.id: [run["bill_cycle"] for run in snapshots if run[ACCOUNT_COLUMN] == account.id]
             for account in ACCOUNTS}

    embedded_root = root / "embedded"
    embedded_env = embedded_environment(embedded_root, env)
    for account in ACCOUNTS:
        for month in order[account.id]:
            done = subprocess.run([sys.executable, "-m", "billrecon.cli", "run", "--month", month], cwd=root,
                                  env={**embedded_env, "BILLRECON_PARTNER_ID": account.id}, capture_output=True,
                                  text=True, timeout=1200)
            assert done.returncode == 0, (account.id, month, done.stdout + done.stderr)
    embedded = {account.id: embedded_root / "warehouse" / account.id / "billrecon.duckdb" for account in ACCOUNTS}

    # every published table of marts and audit, per account and month, row for row as built alone
    tables = published_tables(lake)
    assert "marts.customer_bill_line" in tables and "audit.loads" in tables
    for account in ACCOUNTS:
        assert tables == [table for table in file_tables(embedded[account.id]) if table != "audit.model_builds"]
        for month in MONTHS:
            for table in tables:
                exclude = PER_RUN if table.startswith("marts.") else AUDIT_PER_RUN
                assert lake_month(lake, table, account.id, exclude, month) == \
                    file_month(embedded[account.id], table, exclude, month), (account.id, month, table)

    # the accounts do not mix: each account's bill lines are its own world's customers', every month
    customers = {account: set(world.customers["customer_id"]) for account, world in worlds.items()}
    assert not customers["acme-intl"] & customers["acme-cn"]
    billed = {}
    for account, month, customer in lake.execute(
            f"select {ACCOUNT_COLUMN}, bill_cycle, customer_id from marts.customer_bill_line group by all").fetchall():
        billed.setdefault((account, month), set()).add(customer)
    assert sorted(billed) == sorted(runs)
    for (account, month), seen in billed.items():
        lines = worlds[account].bill_lines[month].filter(pl.col("bill_type") != "Adjustment")
        assert seen == set(lines["customer_id"]) and seen <= customers[account], (account, month)

    # totals per currency (one account each) as built alone; each account's row with its last month's verdict
    expected = []
    for account in ACCOUNTS:
        con = duckdb.connect(str(embedded[account.id]), read_only=True)
        expected += [(account.currency, *totals) for totals in con.execute(FILE_TOTALS).fetchall()]
        con.close()
    assert sorted(lake.execute(LAKE_TOTALS).fetchall()) == sorted(expected) and len(expected) == 4
    assert lake.execute(f"select {ACCOUNT_COLUMN}, site, currency, last_published_cycle, close_status "
                        "from marts.partner_account order by all").fetchall() == [
        ("acme-cn", "cn", "CNY", order["acme-cn"][-1], "not_ready"),
        ("acme-intl", "intl", "USD", order["acme-intl"][-1], "ready")]
    # acme-cn's BSS API answers in USD: an API.CURRENCY finding on each of its pulls with amounts, none for acme-intl
    currency_findings = lake.execute(f"select distinct {ACCOUNT_COLUMN} from audit.findings "
                                     "where rule_id = 'API.CURRENCY'").fetchall()
    assert currency_findings == [("acme-cn",)]
    lake.close()
