"""The month close into a DuckLake warehouse (BILLRECON_WAREHOUSE=ducklake:postgres:…): each run builds
its month in its partner's DuckDB working file and publishes it to the lake, on the test PostgreSQL
with its data in a folder or on the moto S3 server. Runs are `run_cycle` in this process or real
`billrecon run` processes, one per partner account."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.lib import lakehouse
from pipelines.lib.lakehouse import ACCOUNT_COLUMN, CYCLE_COLUMNS
from pipelines.resources import BssApiResource, WarehouseResource
from pipelines.runner import run_cycle
from sandbox.bss import BssEmulator
from sandbox.world import generate_world
from tests.integration.conftest import SMALL_WORLD, pipeline_resources

CYCLE = "2026-09"  # a closed month of the small world
ROOT = Path(__file__).parents[2]


def lake_uri(conninfo: str) -> str:
    return lakehouse.LAKE_PREFIX + conninfo


def published_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [name for (name,) in con.execute(
        """select schema_name || '.' || table_name from duckdb_tables() where database_name = 'lake'
           order by 1""").fetchall()]


def month_rows(con: duckdb.DuckDBPyConnection, table: str, exclude: tuple[str, ...] = (),
               partner: str | None = None) -> list:
    """The rows a run of CYCLE publishes from `table` (those of the cycle and those without one), sorted;
    from a lake table the partner's, without the account column."""
    columns = [c for (c,) in con.execute(f"select column_name from (describe {table})").fetchall()]
    kept = ", ".join(f'"{c}"' for c in columns if c != ACCOUNT_COLUMN and c not in exclude)
    cycle = next((column for column in CYCLE_COLUMNS if column in columns), None)
    conditions = [f'("{cycle}" = ? or "{cycle}" is null)'] if cycle else []
    params = [CYCLE] if cycle else []
    if partner is not None:
        conditions.append(f"{ACCOUNT_COLUMN} = ?")
        params.append(partner)
    where = f"where {' and '.join(conditions)}" if conditions else ""
    return con.execute(f"select {kept} from {table} {where} order by all", params).fetchall()


def lake_month(con: duckdb.DuckDBPyConnection, table: str, partner: str, exclude: tuple[str, ...] = ()) -> list:
    return month_rows(con, table, exclude, partner)


def file_month(path: Path, table: str, exclude: tuple[str, ...] = ()) -> list:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return month_rows(con, table, exclude)
    finally:
        con.close()


def file_tables(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [name for (name,) in con.execute(
            """select schema_name || '.' || table_name from duckdb_tables() where schema_name in ('marts', 'audit')
               union select schema_name || '.' || view_name from duckdb_views()
               where schema_name in ('marts', 'audit') and not internal order by 1""").fetchall()]
    finally:
        con.close()


# ------------------------------------------------------------------------------------- one partner, in-process

@pytest.fixture(scope="module")
def world():
    return generate_world(SMALL_WORLD)


@pytest.fixture(scope="module")
def bss(world):
    with BssEmulator(world, throttle=False) as emulator:
        yield emulator


def month_close(tmp_path: Path, world_dir: Path, bss: BssEmulator, warehouse: WarehouseResource) -> None:
    resources = {**pipeline_resources(tmp_path, inbox=world_dir), "warehouse": warehouse,
                 "bss_api": BssApiResource(endpoint=bss.endpoint_url, access_key=bss.access_key,
                                           secret_key=bss.secret_key, domain_id=bss.domain_id)}
    outcome = run_cycle(CYCLE, resources)
    assert outcome.success, outcome.failure


# what differs between two separate runs of the same month: when each delivery was landed, and the API
# snapshots' names and hashes (they hold the time of the pull)
PER_RUN = ("landed_at", "object_key", "etag", "sha256")


def test_every_published_mart_in_the_lake_equals_the_month_built_into_a_duckdb_file(
        tmp_path, world_dir, bss, postgres_database):
    embedded = WarehouseResource(path=str(tmp_path / "embedded" / "billrecon.duckdb"))
    month_close(tmp_path / "embedded", world_dir, bss, embedded)
    working = tmp_path / "work" / "acme" / "billrecon.duckdb"
    lake = WarehouseResource(path=str(working), lake=lake_uri(postgres_database),
                             lake_data_path=str(tmp_path / "lake") + "/", partner_id="acme")

    month_close(tmp_path / "lake-run", world_dir, bss, lake)

    con = lakehouse.connect(lake.lake_settings(), read_only=True)
    tables = published_tables(con)
    # every table and view of marts and audit but the run's own bookkeeping, views as tables
    assert tables == [table for table in file_tables(working) if table != "audit.model_builds"]
    assert "marts.customer_bill_line" in tables and "marts.focus_partner_cost" in tables
    for table in tables:
        # the lake holds exactly the run's rows of the month
        assert lake_month(con, table, "acme") == file_month(working, table), table
        if table.startswith("marts."):
            # and they are the month as a run into the embedded DuckDB file builds it
            assert lake_month(con, table, "acme", PER_RUN) == file_month(Path(embedded.path), table, PER_RUN), table
    # the month really has content: lines, customers, the BSS API's tie-out
    (lines,), = con.execute(f"select count(*) from marts.customer_bill_line where bill_cycle = '{CYCLE}'").fetchall()
    (tieout,), = con.execute(f"select count(*) from marts.partner_bill_tieout where bill_cycle = '{CYCLE}'").fetchall()
    (customers,), = con.execute("select count(distinct customer_id) from marts.customer_monthly_expenditure "
                                f"where bill_cycle = '{CYCLE}'").fetchall()
    assert lines > 1000 and tieout == 4 and customers == SMALL_WORLD.customers
    # one snapshot, named after the run, for this account and month
    [run] = lakehouse.run_snapshots(con)
    assert (run["partner_id"], run["bill_cycle"]) == ("acme", CYCLE) and run["run_id"]
    # the lake's files are laid out per account and cycle
    assert (tmp_path / "lake" / "marts" / "customer_monthly_expenditure" / "partner_account_id=acme" /
            f"bill_cycle={CYCLE}").is_dir()
    con.close()
