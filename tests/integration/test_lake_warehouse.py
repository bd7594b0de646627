"""The month close into a DuckLake warehouse (BILLRECON_WAREHOUSE=ducklake:postgres:…): each run builds
its month in its partner's DuckDB working file and publishes it to the lake, on the test PostgreSQL
with its data in a folder or on the moto S3 server. Runs are `run_cycle` in this process or real
`billrecon run` processes, one per partner account."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.lib import lakehouse
from pipelines.lib.lake_publish import ACCOUNT_TABLE, publish_to_lake
from pipelines.lib.lakehouse import ACCOUNT_COLUMN, CYCLE_COLUMNS
from pipelines.lib.warehouse import ensure_schema
from pipelines.resources import BssApiResource, WarehouseResource
from pipelines.runner import run_cycle
from sandbox.bss import BssEmulator
from sandbox.objectstore import ensure_bucket
from sandbox.postgres import free_port
from sandbox.world import generate_world
from sandbox.writer import write_world
from tests.integration.conftest import SMALL_WORLD, pipeline_resources

CYCLE = "2026-09"  # a closed month of the small world
ROOT = Path(__file__).parents[2]


def lake_uri(conninfo: str) -> str:
    return lakehouse.LAKE_PREFIX + conninfo


def published_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The lake tables published from a working file's (all but the accounts' own table)."""
    return [name for (name,) in con.execute(
        """select schema_name || '.' || table_name from duckdb_tables() where database_name = 'lake'
           order by 1""").fetchall() if name != ACCOUNT_TABLE]


def month_rows(con: duckdb.DuckDBPyConnection, table: str, exclude: tuple[str, ...] = (),
               partner: str | None = None, cycle: str = CYCLE) -> list:
    """The rows a run of `cycle` publishes from `table` (those of the cycle and those without one), sorted;
    from a lake table the partner's, without the account column."""
    columns = [c for (c,) in con.execute(f"select column_name from (describe {table})").fetchall()]
    kept = ", ".join(f'"{c}"' for c in columns if c != ACCOUNT_COLUMN and c not in exclude)
    cycle_column = next((column for column in CYCLE_COLUMNS if column in columns), None)
    conditions = [f'("{cycle_column}" = ? or "{cycle_column}" is null)'] if cycle_column else []
    params = [cycle] if cycle_column else []
    if partner is not None:
        conditions.append(f"{ACCOUNT_COLUMN} = ?")
        params.append(partner)
    where = f"where {' and '.join(conditions)}" if conditions else ""
    return con.execute(f"select {kept} from {table} {where} order by all", params).fetchall()


def lake_month(con: duckdb.DuckDBPyConnection, table: str, partner: str, exclude: tuple[str, ...] = (),
               cycle: str = CYCLE) -> list:
    return month_rows(con, table, exclude, partner, cycle)


def file_month(path: Path, table: str, exclude: tuple[str, ...] = (), cycle: str = CYCLE) -> list:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return month_rows(con, table, exclude, cycle=cycle)
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
    working = tmp_path / "work" / "default" / "billrecon.duckdb"
    lake = WarehouseResource(path=str(working), lake=lake_uri(postgres_database),
                             lake_data_path=str(tmp_path / "lake") + "/")

    month_close(tmp_path / "lake-run", world_dir, bss, lake)

    con = lakehouse.connect(lake.lake_settings(), read_only=True)
    tables = published_tables(con)
    # every table and view of marts and audit but the run's own bookkeeping, views as tables
    assert tables == [table for table in file_tables(working) if table != "audit.model_builds"]
    assert "marts.customer_bill_line" in tables and "marts.focus_partner_cost" in tables
    for table in tables:
        # the lake holds exactly the run's rows of the month
        assert lake_month(con, table, "default") == file_month(working, table), table
        if table.startswith("marts."):
            # and they are the month as a run into the embedded DuckDB file builds it
            assert lake_month(con, table, "default", PER_RUN) == file_month(Path(embedded.path), table, PER_RUN), table
    # the month really has content: lines, customers, the BSS API's tie-out
    (lines,), = con.execute(f"select count(*) from marts.customer_bill_line where bill_cycle = '{CYCLE}'").fetchall()
    (tieout,), = con.execute(f"select count(*) from marts.partner_bill_tieout where bill_cycle = '{CYCLE}'").fetchall()
    (customers,), = con.execute("select count(distinct customer_id) from marts.customer_monthly_expenditure "
                                f"where bill_cycle = '{CYCLE}'").fetchall()
    assert lines > 1000 and tieout == 4 and customers == SMALL_WORLD.customers
    # the account's row: who it is (the BILLRECON_* settings' one account: the run's partition), and the month
    # with the verdict of its pack
    [account] = con.execute(f"select partner_account_id, name, site, currency, last_published_cycle, close_status, "
                            f"close_headline like '{CYCLE} is ready to close%' from {ACCOUNT_TABLE}").fetchall()
    assert account == ("default", "the partner of the BILLRECON_* settings", "intl", "USD", CYCLE, "ready", True)
    # one snapshot, named after the run, for this account and month
    [run] = lakehouse.run_snapshots(con)
    assert (run["partner_account_id"], run["bill_cycle"]) == ("default", CYCLE) and run["run_id"]
    # the lake's files are laid out per account and cycle
    assert (tmp_path / "lake" / "marts" / "customer_monthly_expenditure" / "partner_account_id=default" /
            f"bill_cycle={CYCLE}").is_dir()
    con.close()


# ------------------------------------------------------------------------------ partners as processes

P1_REDELIVERED = replace(SMALL_WORLD, seed=13)  # the same account's month, delivered again with other lines
P2_WORLD = replace(SMALL_WORLD, seed=12, customers=9)


@pytest.fixture(scope="module")
def other_worlds(tmp_path_factory) -> dict[str, Path]:
    folders = {}
    for name, config in (("p2", P2_WORLD), ("p1-redelivered", P1_REDELIVERED)):
        folders[name] = tmp_path_factory.mktemp(name)
        write_world(generate_world(config), folders[name])
    return folders


def s3_lake_settings(postgres_database: str, s3_server, bucket: str) -> dict[str, str]:
    ensure_bucket(s3_server.client(), bucket)
    return {"BILLRECON_WAREHOUSE": lake_uri(postgres_database), "BILLRECON_LAKE_DATA_PATH": f"s3://{bucket}/lake/",
            "BILLRECON_LAKE_S3_ENDPOINT": s3_server.endpoint_url,
            "BILLRECON_LAKE_S3_ACCESS_KEY": s3_server.access_key,
            "BILLRECON_LAKE_S3_SECRET_KEY": s3_server.secret_key}


def start_run(workdir: Path, partner: str, inbox: Path, settings: dict[str, str]) -> subprocess.Popen:
    """`billrecon run` of CYCLE for one account, files from `inbox`, its working file the default
    warehouse/<partner>/billrecon.duckdb unless `settings` name another."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BILLRECON_PARTNER_ID": partner, **settings}
    for name in ("BILLRECON_S3_ENDPOINT", "BILLRECON_BSS_ENDPOINT", "BILLRECON_PARTNERS_FILE"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "billrecon.cli", "run", "--month", CYCLE, "--inbox", str(inbox),
                             "--reports", f"reports/{partner}"], cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    return output


def lake_counts(settings: dict[str, str], partner: str) -> dict[str, int]:
    """Rows of the partner's month per lake table."""
    con = lakehouse.connect(lakehouse.LakeSettings.from_env(settings), read_only=True)
    try:
        return {table: len(lake_month(con, table, partner)) for table in published_tables(con)}
    finally:
        con.close()


def file_counts(path: Path) -> dict[str, int]:
    return {table: len(file_month(path, table)) for table in file_tables(path) if table != "audit.model_builds"}


def snapshot_count(settings: dict[str, str]) -> int:
    con = lakehouse.connect(lakehouse.LakeSettings.from_env(settings), read_only=True)
    try:
        return len(lakehouse.run_snapshots(con))
    finally:
        con.close()


def test_two_partners_run_at_once_into_one_lake_and_a_rerun_replaces_only_its_own_rows(
        tmp_path, world_dir, other_worlds, postgres_database, s3_server):
    settings = s3_lake_settings(postgres_database, s3_server, "lake-partners")
    runs = {"p1": start_run(tmp_path, "p1", world_dir, settings),
            "p2": start_run(tmp_path, "p2", other_worlds["p2"], settings)}
    for process in runs.values():
        finish(process)

    # each account's working file is its own; the lake holds both months, each as its run built it
    working = {partner: tmp_path / "warehouse" / partner / "billrecon.duckdb" for partner in runs}
    expected = {partner: file_counts(path) for partner, path in working.items()}
    assert expected["p1"] != expected["p2"]  # two different worlds
    assert expected["p1"]["marts.customer_bill_line"] > 1000
    assert {partner: lake_counts(settings, partner) for partner in runs} == expected
    assert snapshot_count(settings) == 2

    # p1's month delivered again with other lines, built in a new working file
    redelivery = {**settings, "BILLRECON_WORKING_WAREHOUSE": "warehouse/p1-redelivered/billrecon.duckdb"}
    output = finish(start_run(tmp_path, "p1", other_worlds["p1-redelivered"], redelivery))

    assert "Warehouse: the DuckLake of BILLRECON_WAREHOUSE" in output
    assert lake_counts(settings, "p2") == expected["p2"]  # the other account untouched
    redelivered = file_counts(tmp_path / "warehouse" / "p1-redelivered" / "billrecon.duckdb")
    assert redelivered != expected["p1"]
    assert lake_counts(settings, "p1") == redelivered  # replaced, not added to
    assert snapshot_count(settings) == 3
    # a rerun with nothing new writes nothing to the lake
    finish(start_run(tmp_path, "p1", other_worlds["p1-redelivered"], redelivery))
    assert snapshot_count(settings) == 3
    assert lake_counts(settings, "p1") == redelivered


SUMMARY = """
    select (select sum(rows_loaded) from audit.loads
            where source = 'customerBill' and bill_cycle = $cycle {partner}),
           (select count(*) from marts.focus_partner_cost where "x_BillCycle" = $cycle {partner}),
           (select count(*) from marts.customer_monthly_expenditure where bill_cycle = $cycle {partner}),
           (select sum(amount_due) from marts.customer_monthly_expenditure where bill_cycle = $cycle {partner}),
           (select sum("BilledCost") from marts.focus_partner_cost where "x_BillCycle" = $cycle {partner})"""


def month_summary(con: duckdb.DuckDBPyConnection, partner: str | None = None) -> tuple:
    """The month's lines loaded, its FOCUS lines, expenditure rows and totals: one query, so one snapshot."""
    condition = f"and {ACCOUNT_COLUMN} = $partner" if partner else ""
    params = {"cycle": CYCLE, **({"partner": partner} if partner else {})}
    return con.execute(SUMMARY.format(partner=condition), params).fetchone()


def file_summary(path: Path) -> tuple:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return month_summary(con)
    finally:
        con.close()


def test_a_publish_killed_midway_changes_nothing_and_readers_see_one_month_or_the_other(
        tmp_path, world_dir, other_worlds, postgres_database, s3_server):
    settings = s3_lake_settings(postgres_database, s3_server, "lake-killed-publish")
    finish(start_run(tmp_path, "p1", world_dir, settings))
    before = file_summary(tmp_path / "warehouse" / "p1" / "billrecon.duckdb")
    client = s3_server.client()

    def p1_files() -> set[str]:
        listing = client.list_objects_v2(Bucket="lake-killed-publish", Prefix="lake/")
        return {item["Key"] for item in listing.get("Contents", []) if "partner_account_id=p1/" in item["Key"]}

    # the month delivered again with other lines, built in a new working file; killed as soon as its
    # publish has written its first file to the lake, long before the commit of its ~20 tables
    redelivery = {**settings, "BILLRECON_WORKING_WAREHOUSE": "warehouse/p1-redelivered/billrecon.duckdb"}
    files_before = p1_files()
    process = start_run(tmp_path, "p1", other_worlds["p1-redelivered"], redelivery)
    while not p1_files() - files_before:
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)

    reader = lakehouse.connect(lakehouse.LakeSettings.from_env(settings), read_only=True)
    assert month_summary(reader, "p1") == before
    assert snapshot_count(settings) == 1

    # the rerun lands, and a reader attached meanwhile sees the month before or after it, never a mix
    process = start_run(tmp_path, "p1", other_worlds["p1-redelivered"], redelivery)
    seen = []
    while process.poll() is None:
        summary = month_summary(reader, "p1")
        assert summary[0] == summary[1]  # lines loaded = FOCUS lines, read in the same snapshot
        if not seen or seen[-1] != summary:
            seen.append(summary)
        time.sleep(0.05)
    finish(process)
    after = file_summary(tmp_path / "warehouse" / "p1-redelivered" / "billrecon.duckdb")
    assert after != before
    seen.append(month_summary(reader, "p1"))
    assert [summary for i, summary in enumerate(seen) if i == 0 or seen[i - 1] != summary] == [before, after]
    assert snapshot_count(settings) == 2
    reader.close()


# ------------------------------------------------------------------------------------------ bad settings

@pytest.mark.parametrize("case", ["malformed", "unreachable", "not writable"])
def test_a_lake_that_cannot_work_is_one_line_and_exit_2_and_nothing_runs(tmp_path, world_dir, postgres_server,
                                                                          case):
    (tmp_path / "a-file").write_text("not a folder\n")
    port = free_port()  # nothing listens there
    settings = {
        "malformed": {"BILLRECON_WAREHOUSE": "ducklake:sqlite:lake.db", "BILLRECON_LAKE_DATA_PATH": "lake/"},
        "unreachable": {"BILLRECON_WAREHOUSE": f"ducklake:postgres:host=127.0.0.1 port={port} dbname=lake "
                                               "user=billrecon password=hunter2",
                        "BILLRECON_LAKE_DATA_PATH": "lake/"},
        "not writable": {"BILLRECON_WAREHOUSE": lake_uri(postgres_server.create_database(f"lake_{port}")),
                         "BILLRECON_LAKE_DATA_PATH": "a-file/lake/"},
    }[case]
    expected = {
        "malformed": "billrecon: BILLRECON_WAREHOUSE must be ducklake:postgres:<libpq connection string> for a "
                     "DuckLake, e.g. ducklake:postgres:host=db port=5432 dbname=billrecon_lake user=billrecon",
        "unreachable": f"billrecon: cannot attach the DuckLake catalog host=127.0.0.1 port={port} dbname=lake "
                       "user=billrecon password=***: ",
        "not writable": "billrecon: the lake's data path a-file/lake/ cannot be written (Not a directory): make it "
                        "a writable folder, or point BILLRECON_LAKE_DATA_PATH at one",
    }[case]
    process = start_run(tmp_path, "p1", world_dir, settings)
    output, _ = process.communicate(timeout=120)

    assert process.returncode == 2
    assert "Traceback" not in output and len(output.splitlines()) == 1, output
    assert output.startswith(expected) if case == "unreachable" else output.strip() == expected
    assert "hunter2" not in output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]  # no working file, no reports


# ------------------------------------------------------------------------------ the lake's tables

def small_working_file(path: Path, *extra_columns: str, pulls: int = 1) -> Path:
    """A working file with the tables Python writes (empty), one mart, a view over it, and `pulls` rows
    without a bill cycle in an audit table."""
    con = duckdb.connect(str(path))
    try:
        ensure_schema(con)
        con.execute("create schema if not exists marts")
        extra = "".join(f", {column} varchar" for column in extra_columns)
        con.execute(f"create or replace table marts.expenditure (bill_cycle varchar, amount decimal(20,8){extra})")
        con.execute(f"insert into marts.expenditure (bill_cycle, amount) values ('{CYCLE}', 1.5), ('{CYCLE}', 2), "
                    "('2026-08', 7)")
        con.execute("create or replace view marts.total as select bill_cycle, sum(amount) as amount "
                    "from marts.expenditure group by all")
        con.execute("create or replace table audit.pulls (bill_cycle varchar, round bigint)")
        con.execute(f"insert into audit.pulls values ('{CYCLE}', 1)")
        con.execute("insert into audit.pulls select null, range from range(?)", [pulls])
    finally:
        con.close()
    return path


def test_the_lake_tables_are_made_from_the_working_file_and_a_different_one_is_refused(postgres_database,
                                                                                        tmp_path):
    settings = lakehouse.LakeSettings(catalog=postgres_database, data_path=str(tmp_path / "lake") + "/")
    working = small_working_file(tmp_path / "work.duckdb")
    first = publish_to_lake(working, settings, lakehouse.Partition("p1", CYCLE), run_id="first")

    con = lakehouse.connect(settings, read_only=True)
    assert published_tables(con) == sorted([  # every audit table but the bookkeeping; the view as a table
        "audit.findings", "audit.held_deliveries", "audit.ignored_objects", "audit.loads", "audit.pulls",
        "audit.quarantine", "audit.restatement_line", "audit.rules", "marts.expenditure", "marts.total"])
    assert con.execute("select * from marts.total").fetchall() == [("p1", CYCLE, Decimal("3.5"))]
    assert con.execute("select * from audit.pulls order by all").fetchall() == [("p1", CYCLE, 1), ("p1", None, 0)]
    con.close()

    # the same content again (a rerun with nothing new): nothing written, no snapshot
    assert publish_to_lake(working, settings, lakehouse.Partition("p1", CYCLE), run_id="again") == \
        lakehouse.Commit(snapshot_id=first.snapshot_id, attempts=0)

    newer = small_working_file(tmp_path / "newer.duckdb", "note", pulls=2)
    with pytest.raises(lakehouse.LakeError) as raised:
        publish_to_lake(newer, settings, lakehouse.Partition("p1", CYCLE), run_id="second")

    assert str(raised.value) == (
        "the lake's tables were created by another version of billrecon: marts.expenditure lacks column(s) note. "
        "Nothing was published; add the columns to the lake (ALTER TABLE … ADD COLUMN) or start a new lake")
    con = lakehouse.connect(settings, read_only=True)
    assert [run["snapshot_id"] for run in lakehouse.run_snapshots(con)] == [first.snapshot_id]
    con.close()
