"""The DuckLake warehouse (pipelines/lib/lakehouse.py) on a real PostgreSQL catalog, with its data in a
folder or on the moto S3 server: partition replacement, commit conflicts retried, killed writers,
and readers pinned to complete snapshots. Writers in other processes run tests/integration/lake_writer.py."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.lib import lakehouse
from pipelines.lib.bss.retry import RetryPolicy
from sandbox.objectstore import ensure_bucket
from tests.integration.lake_writer import partition_rows
from tests.spilling import SMALL_BUDGET, assert_each_spilled_on_its_own

ROOT = Path(__file__).parents[2]
P1_OCT = lakehouse.Partition("p1", "2026-10")
P2_OCT = lakehouse.Partition("p2", "2026-10")


def folder_lake(postgres_database: str, tmp_path: Path) -> lakehouse.LakeSettings:
    return lakehouse.LakeSettings(catalog=postgres_database, data_path=str(tmp_path / "lake") + "/")


def s3_lake(postgres_database: str, s3_server, bucket: str) -> lakehouse.LakeSettings:
    ensure_bucket(s3_server.client(), bucket)
    return lakehouse.LakeSettings(
        catalog=postgres_database, data_path=f"s3://{bucket}/warehouse/",
        s3=lakehouse.S3Storage(endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
                               secret_key=s3_server.secret_key))


def create_tables(settings: lakehouse.LakeSettings) -> None:
    con = lakehouse.connect(settings)
    try:
        lakehouse.ensure_schemas(con)
        con.execute("create table core.bill_line (partner_account_id varchar, bill_cycle varchar, line_id varchar, "
                    "amount_due decimal(20,8), round integer)")
        con.execute("create table marts.expenditure (partner_account_id varchar, bill_cycle varchar, "
                    "amount_due decimal(20,8), round integer)")
        for table in ("core.bill_line", "marts.expenditure"):
            lakehouse.partition_by_partner_and_cycle(con, table)
    finally:
        con.close()


def test_a_lake_connection_keeps_to_duckdb_s_share_of_the_memory_budget(postgres_database, tmp_path, monkeypatch):
    # DuckDB's own default for an in-memory database is 80 % of the machine's memory
    monkeypatch.setenv("BILLRECON_MEMORY_LIMIT", "1GiB")
    con = lakehouse.connect(folder_lake(postgres_database, tmp_path))
    try:
        assert con.execute("select current_setting('memory_limit')").fetchone() == ("512.0 MiB",)
    finally:
        con.close()


def test_writers_in_one_folder_spill_each_to_a_folder_of_its_own(postgres_database, tmp_path):
    """An in-memory DuckDB spills to `.tmp` in the working directory under fixed file names: two accounts'
    runs publishing at once from one folder overwrote each other's spilled blocks and crashed. Each lake
    connection now spills to a folder of its own, which DuckDB removes on close."""
    settings = folder_lake(postgres_database, tmp_path)
    lakehouse.connect(settings).close()  # the catalog exists: the writers only attach it
    workdir = tmp_path / "runs"  # the folder both processes start in
    workdir.mkdir()
    ready = [tmp_path / f"w{n}.ready" for n in (1, 2)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "BILLRECON_MEMORY_LIMIT": SMALL_BUDGET}
    processes = [subprocess.Popen(
        [sys.executable, "-m", "tests.integration.lake_writer",
         json.dumps({**lake_job(settings), "mode": "spill", "partner_id": f"p{n}", "ready": str(path),
                     "barrier": [str(other) for other in ready]})],
        cwd=workdir, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n, path in enumerate(ready, start=1)]
    assert_each_spilled_on_its_own(processes)
    assert list(workdir.iterdir()) == []  # no `.tmp` in the folder the runs started in


def partition_totals(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple]:
    """(partner, cycle) -> (bill lines, Σ line amounts, mart amount, round of the lines, round of the mart)."""
    rows = con.execute("""
        select partner_account_id, bill_cycle, count(*), sum(l.amount_due), any_value(m.amount_due), max(l.round),
               any_value(m.round)
        from core.bill_line l join marts.expenditure m using (partner_account_id, bill_cycle)
        group by all order by all""").fetchall()
    return {(partner, cycle): tuple(values) for partner, cycle, *values in rows}


def writer(job: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.integration.lake_writer", json.dumps(job)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def lake_job(settings: lakehouse.LakeSettings) -> dict:
    s3 = settings.s3
    return {"catalog": settings.catalog, "data_path": settings.data_path,
            "s3": s3 and {"endpoint_url": s3.endpoint_url, "access_key": s3.access_key,
                          "secret_key": s3.secret_key}}


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the writer ended early: {process.stderr.read()}")
        assert time.monotonic() < deadline, "the writer never got ready"
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------- one writer

def test_a_run_replaces_its_partition_in_every_table_and_nothing_else(postgres_database, tmp_path):
    settings = folder_lake(postgres_database, tmp_path)
    create_tables(settings)
    con = lakehouse.connect(settings)
    lakehouse.replace_partition(con, P1_OCT, partition_rows("p1", "2026-10", 4, 10), run_id="run-1")
    lakehouse.replace_partition(con, P2_OCT, partition_rows("p2", "2026-10", 3, 20), run_id="run-2")

    commit = lakehouse.replace_partition(con, P1_OCT, partition_rows("p1", "2026-10", 5, 30), run_id="run-3")

    assert commit.attempts == 1
    assert partition_totals(con) == {("p1", "2026-10"): (5, Decimal("30"), Decimal("30"), 30, 30),
                                     ("p2", "2026-10"): (3, Decimal("20.00000001"), Decimal("20.00000001"), 20, 20)}
    # one snapshot per run, named after it, with what it replaced
    runs = lakehouse.run_snapshots(con)
    assert [(run["run_id"], run["partner_account_id"], run["bill_cycle"]) for run in runs] == [
        ("run-1", "p1", "2026-10"), ("run-2", "p2", "2026-10"), ("run-3", "p1", "2026-10")]
    assert commit.snapshot_id == runs[-1]["snapshot_id"] == lakehouse.run_snapshot(con, "run-3")
    # the snapshot names the account as the lake's column does, never partner_id (the bill's reseller)
    [(message, info)] = con.execute(f"select commit_message, commit_extra_info from {lakehouse.ALIAS}.snapshots() "
                                    "where snapshot_id = ?", [commit.snapshot_id]).fetchall()
    assert message == "run run-3: partner account p1, bill cycle 2026-10"
    assert {key: value for key, value in json.loads(info).items() if "partner" in key} == {"partner_account_id": "p1"}
    assert lakehouse.run_snapshot(con, "never-ran") is None
    # the rows are Parquet files in the data path, one folder per partition; the catalog holds none
    files = sorted(path.relative_to(tmp_path / "lake").parent.as_posix()
                   for path in (tmp_path / "lake").rglob("*.parquet"))
    assert "core/bill_line/partner_account_id=p2/bill_cycle=2026-10" in files
    assert "marts/expenditure/partner_account_id=p1/bill_cycle=2026-10" in files
    con.close()


def test_rows_of_another_partition_are_refused_and_nothing_lands(postgres_database, tmp_path):
    settings = folder_lake(postgres_database, tmp_path)
    create_tables(settings)
    con = lakehouse.connect(settings)
    lakehouse.replace_partition(con, P1_OCT, partition_rows("p1", "2026-10", 2, 10), run_id="run-1")
    snapshots = len(con.execute("from snapshots()").fetchall())
    rows = partition_rows("p1", "2026-10", 2, 99)
    rows["marts.expenditure"] = partition_rows("p2", "2026-10", 2, 99)["marts.expenditure"]

    with pytest.raises(lakehouse.LakeError) as raised:
        lakehouse.replace_partition(con, P1_OCT, rows, run_id="run-2")

    assert str(raised.value) == ("1 row(s) for marts.expenditure are not of partner account p1, bill cycle 2026-10: "
                                 "a run replaces its own partition only, so nothing was written")
    assert partition_totals(con) == {("p1", "2026-10"): (2, Decimal("10"), Decimal("10"), 10, 10)}
    assert len(con.execute("from snapshots()").fetchall()) == snapshots
    con.close()


def test_a_failed_insert_is_reported_as_itself_and_nothing_lands(postgres_database, tmp_path):
    """The failed statement aborts the transaction; cleaning up after it must not replace its error by
    DuckDB's "Current transaction is aborted" (a publish that ran out of memory was reported so)."""
    settings = folder_lake(postgres_database, tmp_path)
    create_tables(settings)
    con = lakehouse.connect(settings)
    lakehouse.replace_partition(con, P1_OCT, partition_rows("p1", "2026-10", 2, 10), run_id="run-1")
    rows = partition_rows("p1", "2026-10", 2, 99)
    rows["marts.expenditure"] = ("select 'p1' as partner_account_id, '2026-10' as bill_cycle, "
                                 "'not an amount' as amount_due, 99 as round")

    with pytest.raises(duckdb.ConversionException, match="not an amount"):
        lakehouse.replace_partition(con, P1_OCT, rows, run_id="run-2")

    assert partition_totals(con) == {("p1", "2026-10"): (2, Decimal("10"), Decimal("10"), 10, 10)}
    con.close()


def test_a_table_without_a_cycle_is_the_accounts_and_rows_without_one_go_with_every_run(postgres_database,
                                                                                        tmp_path):
    settings = folder_lake(postgres_database, tmp_path)
    create_tables(settings)
    con = lakehouse.connect(settings)
    con.execute("create table core.customer (partner_account_id varchar, customer_id varchar)")
    con.execute("create table core.pull (partner_account_id varchar, bill_cycle varchar, round integer)")

    def rows(partner: str, cycle: str, customers: list[str], round_number: int) -> dict[str, str]:
        names = ", ".join(f"('{customer}')" for customer in customers)
        return {"core.customer": f"select '{partner}' as partner_account_id, * from (values {names}) c(customer_id)",
                "core.pull": f"""select '{partner}' as partner_account_id, * from
                                 (values ('{cycle}', {round_number}), (null, {round_number})) p(bill_cycle, round)"""}

    lakehouse.replace_partition(con, P1_OCT, rows("p1", "2026-10", ["c1", "c2"], 1), run_id="p1-oct")
    lakehouse.replace_partition(con, P2_OCT, rows("p2", "2026-10", ["c9"], 1), run_id="p2-oct")
    lakehouse.replace_partition(con, lakehouse.Partition("p1", "2026-11"), rows("p1", "2026-11", ["c3"], 2),
                                run_id="p1-nov")

    assert con.execute("select partner_account_id, customer_id from core.customer order by all").fetchall() == [
        ("p1", "c3"), ("p2", "c9")]
    assert con.execute("select partner_account_id, bill_cycle, round from core.pull order by all").fetchall() == [
        ("p1", "2026-10", 1), ("p1", "2026-11", 2), ("p1", None, 2), ("p2", "2026-10", 1), ("p2", None, 1)]
    con.close()


def test_a_table_without_the_account_column_is_refused_by_name(postgres_database, tmp_path):
    settings = folder_lake(postgres_database, tmp_path)
    create_tables(settings)
    con = lakehouse.connect(settings)
    con.execute("create table core.customer (customer_id varchar)")
    with pytest.raises(lakehouse.LakeError, match="the lake table core.customer lacks partner_account_id"):
        lakehouse.replace_partition(con, P1_OCT, {"core.customer": "select 'c1' as customer_id"}, run_id="r")
    with pytest.raises(lakehouse.LakeError, match=r"the lake has no table core\.bill_lines"):
        lakehouse.replace_partition(con, P1_OCT, {"core.bill_lines": "select 1"}, run_id="r")
    con.close()


def test_a_commit_lost_to_another_writer_is_retried_logged_and_lands(postgres_database, tmp_path, caplog):
    settings = folder_lake(postgres_database, tmp_path)
    create_tables(settings)
    first, second = lakehouse.connect(settings), lakehouse.connect(settings)
    # both partitions hold rows, so each writer deletes some: inserts alone never conflict
    lakehouse.replace_partition(first, P1_OCT, partition_rows("p1", "2026-10", 1, 1), run_id="p1-first")
    lakehouse.replace_partition(first, P2_OCT, partition_rows("p2", "2026-10", 1, 2), run_id="p2-first")
    attempts = []

    def p2_rows_while_p1_lands() -> str:
        # the first attempt's transaction is open: another writer commits p1 meanwhile
        if not attempts:
            lakehouse.replace_partition(first, P1_OCT, partition_rows("p1", "2026-10", 3, 10), run_id="p1-run")
        attempts.append(len(attempts) + 1)
        return partition_rows("p2", "2026-10", 2, 20)["marts.expenditure"]

    rows = {"core.bill_line": partition_rows("p2", "2026-10", 2, 20)["core.bill_line"],
            "marts.expenditure": p2_rows_while_p1_lands}
    with caplog.at_level(logging.WARNING, logger="pipelines.lib.lakehouse"):
        commit = lakehouse.replace_partition(second, P2_OCT, rows, run_id="p2-run", sleep=lambda _: None)

    assert commit.attempts == 2 and attempts == [1, 2]
    assert partition_totals(first) == {("p1", "2026-10"): (3, Decimal("9.99999999"), Decimal("9.99999999"), 10, 10),
                                       ("p2", "2026-10"): (2, Decimal("20"), Decimal("20"), 20, 20)}
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning.startswith("run p2-run (partner account p2, bill cycle 2026-10): commit conflict on attempt 1 of 8 (")
    assert "retrying in" in warning
    first.close()
    second.close()


def test_conflicts_past_the_retry_policy_give_up_with_one_line_and_change_nothing(postgres_database, tmp_path):
    settings = folder_lake(postgres_database, tmp_path)
    create_tables(settings)
    first, second = lakehouse.connect(settings), lakehouse.connect(settings)
    lakehouse.replace_partition(second, P2_OCT, partition_rows("p2", "2026-10", 2, 5), run_id="p2-before")
    rounds = iter(range(100, 200))

    def always_overtaken() -> str:
        lakehouse.replace_partition(first, P1_OCT, partition_rows("p1", "2026-10", 1, next(rounds)), run_id="p1")
        return partition_rows("p2", "2026-10", 2, 20)["marts.expenditure"]

    rows = {"core.bill_line": partition_rows("p2", "2026-10", 2, 20)["core.bill_line"],
            "marts.expenditure": always_overtaken}
    with pytest.raises(lakehouse.LakeError) as raised:
        lakehouse.replace_partition(second, P2_OCT, rows, run_id="p2-run", sleep=lambda _: None,
                                    retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_total_seconds=60))

    message = str(raised.value)
    assert message.startswith("run p2-run (partner account p2, bill cycle 2026-10) lost its commit to concurrent writers "
                              "3 times (")
    assert message.endswith("nothing of it landed: run it again") and "\n" not in message
    assert partition_totals(first)[("p2", "2026-10")] == (2, Decimal("5"), Decimal("5"), 5, 5)
    assert lakehouse.run_snapshot(first, "p2-run") is None
    first.close()
    second.close()


# ------------------------------------------------------------------------------------- several processes

def test_two_processes_writing_different_partitions_at_once_both_land_on_s3(postgres_database, s3_server,
                                                                            tmp_path):
    settings = s3_lake(postgres_database, s3_server, "lake-concurrent")
    create_tables(settings)
    cycles = ["2026-07", "2026-08", "2026-09", "2026-10"]
    # every partition holds a first delivery, so both writers delete as well as insert (a re-delivery)
    con = lakehouse.connect(settings)
    for partner in ("p1", "p2"):
        for cycle in cycles:
            lakehouse.replace_partition(con, lakehouse.Partition(partner, cycle), partition_rows(partner, cycle, 5, 99),
                                        run_id=f"first-{partner}-{cycle}")
    con.close()
    ready = {partner: tmp_path / f"{partner}.ready" for partner in ("p1", "p2")}
    processes = {partner: writer({**lake_job(settings), "mode": "replace", "partner_id": partner,
                                  "bill_cycles": cycles, "lines": 50, "hold_seconds": 0.3,
                                  "ready": str(ready[partner]), "barrier": [str(path) for path in ready.values()]})
                 for partner in ("p1", "p2")}
    commits = {}
    for partner, process in processes.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        commits[partner] = [json.loads(line) for line in out.splitlines()]
        # every retry was logged by the process that made it
        retries = sum(commit["attempts"] - 1 for commit in commits[partner])
        assert err.count("commit conflict on attempt") == retries

    # both writers held transactions open on the same tables at once: DuckLake made at least one retry
    assert sum(commit["attempts"] - 1 for partner in commits for commit in commits[partner]) >= 1
    reader = lakehouse.connect(settings, read_only=True)
    # nothing lost: every cycle of both partners holds the round that wrote it, lines and mart agreeing
    assert partition_totals(reader) == {
        (partner, cycle): (50, Decimal(round_number), Decimal(round_number), round_number, round_number)
        for partner in ("p1", "p2") for round_number, cycle in enumerate(cycles, start=1)}
    assert {run["run_id"] for run in lakehouse.run_snapshots(reader) if not run["run_id"].startswith("first-")} == {
        f"{partner}-{cycle}-{n}" for partner in ("p1", "p2") for n, cycle in enumerate(cycles, start=1)}
    keys = [item["Key"] for item in s3_server.client().list_objects_v2(
        Bucket="lake-concurrent", Prefix="warehouse/core/bill_line/partner_account_id=p2/").get("Contents", [])]
    assert keys and all(key.endswith(".parquet") for key in keys)
    reader.close()


@pytest.mark.parametrize("storage", ["folder", "s3"])
def test_a_writer_killed_mid_transaction_leaves_the_partition_as_it_was(postgres_database, s3_server, tmp_path,
                                                                        storage):
    settings = (folder_lake(postgres_database, tmp_path) if storage == "folder"
                else s3_lake(postgres_database, s3_server, "lake-killed"))
    create_tables(settings)
    con = lakehouse.connect(settings)
    lakehouse.replace_partition(con, P1_OCT, partition_rows("p1", "2026-10", 3, 10), run_id="before")
    before = partition_totals(con)
    snapshots = con.execute("select count(*) from snapshots()").fetchone()
    con.close()
    ready = tmp_path / "hold.ready"

    process = writer({**lake_job(settings), "mode": "hold", "partner_id": "p1", "bill_cycle": "2026-10",
                      "lines": 7, "round": 77, "run_id": "killed", "ready": str(ready)})
    wait_for(ready, process)  # partition deleted and new rows written to Parquet, commit not yet made
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    con = lakehouse.connect(settings)
    assert partition_totals(con) == before == {("p1", "2026-10"): (3, Decimal("9.99999999"),
                                                                   Decimal("9.99999999"), 10, 10)}
    assert con.execute("select count(*) from snapshots()").fetchone() == snapshots
    assert lakehouse.run_snapshot(con, "killed") is None
    # the next run of the partition lands normally
    commit = lakehouse.replace_partition(con, P1_OCT, partition_rows("p1", "2026-10", 7, 77), run_id="rerun")
    assert commit.attempts == 1
    assert partition_totals(con) == {("p1", "2026-10"): (7, Decimal("77"), Decimal("77"), 77, 77)}
    con.close()


def test_readers_see_only_complete_snapshots_and_a_run_snapshot_stays_readable(postgres_database, s3_server,
                                                                                tmp_path):
    settings = s3_lake(postgres_database, s3_server, "lake-readers")
    create_tables(settings)
    con = lakehouse.connect(settings)
    first = lakehouse.replace_partition(con, P1_OCT, partition_rows("p1", "2026-10", 20, 1), run_id="first")
    con.close()
    ready = tmp_path / "writer.ready"
    process = writer({**lake_job(settings), "mode": "replace", "partner_id": "p1", "bill_cycles": ["2026-10"] * 6,
                      "lines": 20, "hold_seconds": 0.2, "ready": str(ready), "barrier": [str(ready)]})
    reader = lakehouse.connect(settings, read_only=True)
    seen = set()
    while process.poll() is None:
        # one query reads both tables in one snapshot: lines and mart of the same run, never a mix
        (lines, line_round, line_total, mart_round, mart_total), = reader.execute("""
            select (select count(*) from core.bill_line), (select max(round) from core.bill_line),
                   (select sum(amount_due) from core.bill_line), (select max(round) from marts.expenditure),
                   (select sum(amount_due) from marts.expenditure)""").fetchall()
        assert (lines, line_round, line_total) == (20, mart_round, mart_total)
        seen.add(line_round)
        time.sleep(0.05)
    assert process.returncode == 0, process.stderr.read()
    seen.add(reader.execute("select max(round) from core.bill_line").fetchone()[0])
    assert seen <= {1, 2, 3, 4, 5, 6} and 6 in seen and len(seen) >= 2

    # the reader cannot write
    with pytest.raises(duckdb.InvalidInputException, match="read-only"):
        reader.execute("delete from core.bill_line")
    reader.close()
    # a reader pinned to the first run's snapshot sees that run, after six more
    pinned = lakehouse.connect(settings, read_only=True, snapshot=first.snapshot_id)
    assert partition_totals(pinned) == {("p1", "2026-10"): (20, Decimal("1"), Decimal("1"), 1, 1)}
    pinned.close()


# ------------------------------------------------------------------------------------------ settings

def test_settings_come_from_the_environment_and_hide_the_password():
    settings = lakehouse.LakeSettings.from_env({
        "BILLRECON_WAREHOUSE": "ducklake:postgres:host=db port=5432 dbname=lake user=billrecon password=s3cret",
        "BILLRECON_LAKE_DATA_PATH": "s3://billrecon-lake/warehouse/",
        "BILLRECON_LAKE_S3_ENDPOINT": "https://obs.ap-southeast-1.myhuaweicloud.com",
        "BILLRECON_LAKE_S3_ACCESS_KEY": "AK", "BILLRECON_LAKE_S3_SECRET_KEY": "SK"})
    assert settings.catalog == "host=db port=5432 dbname=lake user=billrecon password=s3cret"
    assert settings.s3.endpoint_url == "https://obs.ap-southeast-1.myhuaweicloud.com"
    assert "s3cret" not in repr(settings) and "SK" not in repr(settings.s3)
    assert lakehouse.redact(settings.catalog) == "host=db port=5432 dbname=lake user=billrecon password=***"
    assert lakehouse.redact("password='a b' host=x") == "password=*** host=x"


@pytest.mark.parametrize(("environ", "message"), [
    ({"BILLRECON_WAREHOUSE": "warehouse/billrecon.duckdb", "BILLRECON_LAKE_DATA_PATH": "/lake"},
     "BILLRECON_WAREHOUSE must be ducklake:postgres:<libpq connection string> for a DuckLake"),
    ({"BILLRECON_WAREHOUSE": "ducklake:postgres:", "BILLRECON_LAKE_DATA_PATH": "/lake"},
     "BILLRECON_WAREHOUSE must be ducklake:postgres:<libpq connection string> for a DuckLake"),
    ({"BILLRECON_WAREHOUSE": "ducklake:postgres:host=db"}, "BILLRECON_LAKE_DATA_PATH is not set"),
    ({"BILLRECON_WAREHOUSE": "ducklake:postgres:host=db", "BILLRECON_LAKE_DATA_PATH": "s3://lake/wh/"},
     "the lake's data path s3://lake/wh/ is a bucket, but no S3 credentials are set"),
])
def test_a_wrong_lake_setting_is_refused_with_one_line(environ, message):
    with pytest.raises(lakehouse.LakeError) as raised:
        lakehouse.LakeSettings.from_env(environ)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_an_unreachable_catalog_is_one_line_without_the_password(postgres_server, tmp_path):
    port = postgres_server.port
    settings = lakehouse.LakeSettings(catalog=f"host=127.0.0.1 port={port} user=postgres dbname=no_such_db "
                                              "password=hunter2", data_path=str(tmp_path) + "/")
    with pytest.raises(lakehouse.LakeError) as raised:
        lakehouse.connect(settings)
    message = str(raised.value)
    assert message.startswith(f"cannot attach the DuckLake catalog host=127.0.0.1 port={port} user=postgres "
                              "dbname=no_such_db password=***: ")
    assert "hunter2" not in message and "\n" not in message


def test_a_lake_given_where_a_duckdb_file_is_read_is_refused_and_creates_nothing(tmp_path, monkeypatch):
    from pipelines.lib.warehouse import WarehouseIsALake, connect

    monkeypatch.chdir(tmp_path)  # a DuckDB file named after the setting would appear here

    with pytest.raises(WarehouseIsALake, match=r"the warehouse names a DuckLake \(ducklake:…\), but this reads or "
                                               r"writes a DuckDB file: give the partner's working file"):
        connect("ducklake:postgres:host=db dbname=lake")
    assert not any(tmp_path.iterdir())
