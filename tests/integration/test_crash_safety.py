"""Runs killed with SIGKILL, a second writer, and an analyst reading while a run publishes.

Each run here is a real `billrecon run` process against a DuckDB file on disk."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from sandbox.world import WorldConfig, generate_world
from sandbox.writer import write_world

FIRST, SECOND = "2026-08", "2026-09"
WORLD = WorldConfig(seed=5, customers=30, resellers=2, closed_months=2, lines_per_month=10_000,
                    first_month=FIRST, member_rows=2_500, usage_export_days=2)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inbox")
    write_world(generate_world(WORLD), root)
    return root


def billrecon(args: list[str], workdir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("BILLRECON_S3_ENDPOINT", None)
    return subprocess.Popen([sys.executable, "-m", "billrecon.cli", *args], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_month(month: str, inbox: Path, workdir: Path) -> str:
    process = billrecon(["run", "--month", month, "--inbox", str(inbox), "--warehouse", "wh/billrecon.duckdb",
                         "--reports", "reports"], workdir)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return output


def marts(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            "expenditure": con.execute("select * from marts.customer_monthly_expenditure order by all").fetchall(),
            "bill_lines": con.execute("select * from marts.customer_bill_line order by all").fetchall(),
            "quality": con.execute("select * exclude (landed_at) from marts.data_quality order by all").fetchall(),
        }
    finally:
        con.close()


def months_are_whole(path: Path) -> None:
    """No half-written month: every staged month holds exactly the rows its loads say were loaded."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        loads = dict(con.execute("""select bill_cycle, sum(rows_loaded) from audit.loads
                                    where source = 'customerBill' group by 1""").fetchall())
        staged = dict(con.execute("select bill_cycle, count(*) from staging.bill_line group by 1").fetchall())
        assert staged == {cycle: rows for cycle, rows in loads.items() if rows}
        unbalanced = con.execute("select count(*) from audit.loads where rows_read <> rows_loaded + rows_quarantined")
        assert unbalanced.fetchone()[0] == 0
    finally:
        con.close()


@pytest.fixture(scope="module")
def after_first_month(tmp_path_factory, inbox) -> Path:
    base = tmp_path_factory.mktemp("base")
    run_month(FIRST, inbox, base)
    return base


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, inbox, after_first_month) -> tuple[dict, float]:
    work = tmp_path_factory.mktemp("reference")
    shutil.copytree(after_first_month, work, dirs_exist_ok=True)
    started = time.monotonic()
    run_month(SECOND, inbox, work)
    return marts(work / "wh" / "billrecon.duckdb"), time.monotonic() - started


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.7, 0.9])
def test_a_killed_run_changes_nothing_published_and_the_next_run_completes(
        tmp_path, inbox, after_first_month, uninterrupted, fraction):
    expected, duration = uninterrupted
    shutil.copytree(after_first_month, tmp_path, dirs_exist_ok=True)
    published = tmp_path / "wh" / "published" / "billrecon.duckdb"
    published_before = published.read_bytes()
    working = tmp_path / "wh" / "billrecon.duckdb"
    first_month_before = marts(working)

    process = billrecon(["run", "--month", SECOND, "--inbox", str(inbox), "--warehouse", "wh/billrecon.duckdb",
                         "--reports", "reports"], tmp_path)
    time.sleep(duration * fraction)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)

    # what analysts read is exactly what it was, unless the run had already published everything
    if published.read_bytes() != published_before:
        assert marts(published) == expected
    months_are_whole(working)
    partial = marts(working)
    assert [r for r in partial["expenditure"] if r[0] == FIRST] == \
           [r for r in first_month_before["expenditure"] if r[0] == FIRST]

    run_month(SECOND, inbox, tmp_path)
    assert marts(working) == expected
    assert marts(published) == expected


def test_a_second_writer_fails_with_a_clear_message(tmp_path, inbox, after_first_month):
    shutil.copytree(after_first_month, tmp_path, dirs_exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
                               "time.sleep(60)", str(tmp_path / "wh" / "billrecon.duckdb")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        process = billrecon(["run", "--month", SECOND, "--inbox", str(inbox), "--warehouse", "wh/billrecon.duckdb",
                             "--reports", "reports"], tmp_path)
        output, _ = process.communicate(timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert process.returncode != 0
    assert "is open for writing by another process; only one run may write at a time" in output
    months_are_whole(tmp_path / "wh" / "billrecon.duckdb")


SUMMARY = ("select bill_cycle, count(*), sum(amount_due)::varchar from marts.customer_monthly_expenditure "
           "group by 1 order by 1")

# Two analysts in their own processes (DuckDB shares one open database per path within a process):
# one keeps a session open across the publish, one reconnects for every query.
READER = """
import duckdb, json, os, sys, time
path, stop, query, mode = sys.argv[1:5]
held = duckdb.connect(path, read_only=True) if mode == "held" else None
seen = set()
deadline = time.monotonic() + 120
while time.monotonic() < deadline and not os.path.exists(stop):
    con = held or duckdb.connect(path, read_only=True)
    seen.add(json.dumps(con.execute(query).fetchall()))
    if held is None:
        con.close()
for rows in sorted(seen):
    print(rows)
"""


def summary(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return json.dumps([list(r) for r in con.execute(SUMMARY).fetchall()])
    finally:
        con.close()


def test_an_analyst_reading_the_published_warehouse_sees_old_or_new_never_a_mix(tmp_path, inbox, after_first_month):
    shutil.copytree(after_first_month, tmp_path, dirs_exist_ok=True)
    published = tmp_path / "wh" / "published" / "billrecon.duckdb"
    old = summary(published)
    stop = tmp_path / "stop-reading"
    readers = {mode: subprocess.Popen([sys.executable, "-c", READER, str(published), str(stop), SUMMARY, mode],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for mode in ("held", "fresh")}
    time.sleep(1.5)
    run_month(SECOND, inbox, tmp_path)
    new = summary(published)
    time.sleep(0.5)
    stop.touch()
    seen = {}
    for mode, reader in readers.items():
        output, errors = reader.communicate(timeout=60)
        assert reader.returncode == 0, errors
        seen[mode] = set(output.splitlines())
    assert old != new and len(json.loads(new)) == 2
    assert seen["held"] == {old}                  # an open session keeps reading the old file
    assert seen["fresh"] == {old, new}            # old before the swap, new after it, never a mix
