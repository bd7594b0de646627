"""Runs killed with SIGKILL or stopped by their time limit, runs started together, a second writer, and an analyst
reading while a run publishes.

Each run here is a real `billrecon run` process against a DuckDB file on disk."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from billrecon.run_limit import limit_line
from sandbox.world import WorldConfig, generate_world
from sandbox.writer import write_world
from tests.unit.test_lease import HOLDER as LEASE_HOLDER

FIRST, SECOND = "2026-08", "2026-09"
WORLD = WorldConfig(seed=5, customers=30, resellers=2, closed_months=2, lines_per_month=10_000,
                    first_month=FIRST, member_rows=2_500, usage_export_days=2)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inbox")
    write_world(generate_world(WORLD), root)
    return root


def billrecon(args: list[str], workdir: Path, **settings: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **settings}
    env.pop("BILLRECON_S3_ENDPOINT", None)
    return subprocess.Popen([sys.executable, "-m", "billrecon.cli", *args], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def start_month(month: str, inbox: Path, workdir: Path, **settings: str) -> subprocess.Popen:
    return billrecon(["run", "--month", month, "--inbox", str(inbox), "--warehouse", "wh/billrecon.duckdb",
                      "--reports", "reports"], workdir, **settings)


def run_month(month: str, inbox: Path, workdir: Path) -> str:
    process = start_month(month, inbox, workdir)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return output


def leftovers(workdir: Path) -> list[str]:
    """Temporary files and folders of writers: report temp files, publish copies, staging spools,
    landing downloads."""
    return sorted(str(path.relative_to(workdir)) for path in workdir.rglob(".*")
                  if path.name.endswith((".tmp", ".incoming")) or path.name.startswith((".billrecon-spool-",
                                                                                        ".incoming-")))


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


def first_month_copy(after_first_month: Path, workdir: Path) -> bytes:
    """The folder after the first month's run, copied to `workdir`; the bytes of its published snapshot."""
    shutil.copytree(after_first_month, workdir, dirs_exist_ok=True)
    return (workdir / "wh" / "published" / "billrecon.duckdb").read_bytes()


def stopped_then_finished(workdir: Path, inbox: Path, published_before: bytes, expected: dict) -> None:
    """A run of SECOND that stopped before its end changed nothing published and left its months
    whole; the next run finishes with the uninterrupted run's marts and leaves no temporary file."""
    published = workdir / "wh" / "published" / "billrecon.duckdb"
    assert published.read_bytes() == published_before
    months_are_whole(workdir / "wh" / "billrecon.duckdb")
    run_month(SECOND, inbox, workdir)
    assert marts(workdir / "wh" / "billrecon.duckdb") == expected
    assert marts(published) == expected
    assert leftovers(workdir) == []


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

    process = start_month(SECOND, inbox, tmp_path)
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
    assert leftovers(tmp_path) == []


def test_a_run_past_its_time_limit_stops_in_one_line_and_the_next_run_completes(
        tmp_path, inbox, after_first_month, uninterrupted):
    expected, duration = uninterrupted
    published_before = first_month_copy(after_first_month, tmp_path)
    limit = max(1, int(duration / 3))  # the clock starts once the lease is held, after the imports

    process = billrecon(["run", "--month", SECOND, "--inbox", str(inbox), "--warehouse", "wh/billrecon.duckdb",
                         "--reports", "reports", "--max-runtime", str(limit)], tmp_path)
    output, _ = process.communicate(timeout=300)

    assert process.returncode == 1
    [log] = (tmp_path / "wh" / "logs").glob("billrecon-*.log")
    assert output == f"billrecon: {limit_line(SECOND, limit)} (full log: {log.relative_to(tmp_path)})\n"
    assert "thread MainThread" in log.read_text() and "pipelines/runner.py" in log.read_text()
    stopped_then_finished(tmp_path, inbox, published_before, expected)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_run_stopped_by_a_signal_says_so_in_one_line_and_the_next_run_completes(
        tmp_path, inbox, after_first_month, uninterrupted, stop):
    expected, _ = uninterrupted
    published_before = first_month_copy(after_first_month, tmp_path)
    landed = tmp_path / "wh" / "landing" / "objects"
    landed_before = len(list(landed.rglob("*")))

    process = start_month(SECOND, inbox, tmp_path)
    deadline = time.monotonic() + 120
    while len(list(landed.rglob("*"))) == landed_before and time.monotonic() < deadline:  # its steps have begun
        time.sleep(0.05)
    process.send_signal(stop)
    try:
        output, _ = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()  # a run that does not stop must not outlive the test
        raise

    assert process.returncode == 130
    assert re.fullmatch(rf"billrecon: {SECOND} interrupted \(Ctrl-C or a stop signal\) in step \w+: the steps it "
                        r"finished are kept and nothing half-written is used; run it again to finish\n", output), output
    assert not (tmp_path / "wh" / "logs").exists()  # nothing failed: no failure log
    stopped_then_finished(tmp_path, inbox, published_before, expected)


def test_two_runs_started_in_the_same_second_both_finish_with_the_result_of_one(
        tmp_path, inbox, after_first_month, uninterrupted):
    expected, _ = uninterrupted
    shutil.copytree(after_first_month, tmp_path, dirs_exist_ok=True)
    runs = [start_month(SECOND, inbox, tmp_path) for _ in range(2)]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    for output in outputs:
        assert "Traceback" not in output and f"{SECOND} done in" in output
    assert marts(tmp_path / "wh" / "billrecon.duckdb") == expected
    assert marts(tmp_path / "wh" / "published" / "billrecon.duckdb") == expected
    months_are_whole(tmp_path / "wh" / "billrecon.duckdb")


def test_a_run_waiting_past_the_lease_timeout_says_so_in_one_line_and_changes_nothing(
        tmp_path, inbox, after_first_month):
    shutil.copytree(after_first_month, tmp_path, dirs_exist_ok=True)
    working = tmp_path / "wh" / "billrecon.duckdb"
    before = {path: path.read_bytes() for path in (working, tmp_path / "wh" / "published" / "billrecon.duckdb")}
    holder = subprocess.Popen([sys.executable, "-c", LEASE_HOLDER, str(working)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        process = start_month(SECOND, inbox, tmp_path, BILLRECON_LEASE_TIMEOUT_SECONDS="3")
        output, _ = process.communicate(timeout=120)
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert process.returncode == 1
    assert waited >= 3
    [line] = output.splitlines()
    log = next((tmp_path / "wh" / "logs").glob("billrecon-*.log"))
    assert line == (f"billrecon: the warehouse wh/billrecon.duckdb is being written by the run of process {holder.pid} "
                    f"on {os.uname().nodename} (since "
                    + line.split("(since ")[1].split(")")[0]
                    + "), and this run waited 3 s for it (BILLRECON_LEASE_TIMEOUT_SECONDS): run again once that run "
                    f"has finished, or allow a longer wait; nothing was changed (full log: {log.relative_to(tmp_path)})")
    assert "LeaseTimeout" in log.read_text()  # the trace is in the log
    assert {path: path.read_bytes() for path in before} == before
    assert not (tmp_path / "reports" / SECOND).exists()


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
    assert process.returncode == 1
    [line] = output.splitlines()
    assert line.startswith(f"billrecon: {SECOND} failed: the warehouse wh/billrecon.duckdb is open for writing by "
                           "another process; only one run may write at a time (wait for it, or read the published "
                           "snapshot) (full log: wh/logs/billrecon-")
    months_are_whole(tmp_path / "wh" / "billrecon.duckdb")


# Writes the month-close pack like a run does, and stops for good in the middle of the largest
# file (customer_bill_line.csv, a copy of every line of the month, written beside customer_bill_line.parquet),
# to be killed there.
STOPPED_REPORT_WRITER = """
import sys, time
from pathlib import Path
import reports.files
from pipelines.lib.warehouse import connect
from reports.month_close import render_month_close

def stop(self):
    print("writing", flush=True)
    time.sleep(120)

reports.files.DropBehind.wrote = stop
con = connect(sys.argv[1], read_only=True)
render_month_close(con, sys.argv[2], Path(sys.argv[3]), [])
"""

# Publishes the warehouse like a run does, and stops for good after the first block of the copy.
STOPPED_PUBLISHER = """
import shutil, sys, time
from pathlib import Path
from pipelines.lib import publish

def copy_then_stop(source, target):
    with open(source, "rb") as reading, open(target, "wb") as writing:
        writing.write(reading.read(1 << 20))
        writing.flush()
        print("copying", flush=True)
        time.sleep(120)

publish.shutil.copyfile = copy_then_stop
publish.publish(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def _kill_when(ready: str, script: str, *args: Path | str) -> None:
    writer = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == ready
    writer.send_signal(signal.SIGKILL)
    writer.wait()


def test_the_temporary_files_of_killed_report_writers_and_publishers_are_gone_after_the_next_run(
        tmp_path, inbox, after_first_month):
    shutil.copytree(after_first_month, tmp_path, dirs_exist_ok=True)
    working = tmp_path / "wh" / "billrecon.duckdb"
    published = tmp_path / "wh" / "published" / "billrecon.duckdb"
    published.unlink()  # else publishing the unchanged warehouse would not copy at all
    _kill_when("writing", STOPPED_REPORT_WRITER, working, FIRST, tmp_path / "reports" / FIRST)
    _kill_when("copying", STOPPED_PUBLISHER, working, published)
    report_temp, parquet_temp, publish_copy = leftovers(tmp_path)
    assert report_temp.startswith(f"reports/{FIRST}/.customer_bill_line.csv.") and report_temp.endswith(".tmp")
    assert parquet_temp.startswith(f"reports/{FIRST}/.customer_bill_line.parquet.") and parquet_temp.endswith(".tmp")
    assert publish_copy.startswith("wh/published/.billrecon.duckdb.") and publish_copy.endswith(".incoming")
    assert (tmp_path / report_temp).stat().st_size > 0 and (tmp_path / publish_copy).stat().st_size > 0
    run_month(SECOND, inbox, tmp_path)  # another month: the sweep covers every cycle's folder
    assert leftovers(tmp_path) == []
    assert (tmp_path / "reports" / FIRST / "customer_bill_line.csv").exists()  # the pack on disk was kept
    assert summary(published) == summary(working)


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
