"""Every expected failure of `billrecon run` is one line on the terminal: the cause and what to do,
and for a failed run the path of the log that holds the trace. Exit 2 for a bad request (nothing
ran), 1 for a failed run.

Full and read-only disks are real: a tmpfs mounted in a private mount namespace of the run's own
process (`unshare`), which disappears with it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.warehouse import ensure_schema
from pipelines.resources import ReportsResource

MONTH = "2026-08"  # the first closed month of the integration world (conftest.SMALL_WORLD)
MOUNT_THEN_RUN = 'mount -t tmpfs -o "$1" tmpfs "$2" && shift 2 && exec "$@"'


def on_private_tmpfs(folder: Path, options: str) -> list[str]:
    """A command prefix that runs the command with a tmpfs at `folder` that only it sees."""
    user_namespace = ["--user", "--map-root-user"] if os.geteuid() else []  # unprivileged: its own root
    return ["unshare", "--mount", "--propagation", "private", *user_namespace,
            "sh", "-c", MOUNT_THEN_RUN, "sh", options, str(folder)]


def run(workdir: Path, *options: str, prefix: tuple[str, ...] = (), env_drop=("BILLRECON_S3_ENDPOINT",),
        **settings: str) -> tuple[int, str]:
    # TMPDIR: a log that cannot go beside the warehouse goes to the temporary folder, the test's own
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(workdir), **settings}
    for name in env_drop:
        env.pop(name, None)
    completed = subprocess.run([*prefix, sys.executable, "-m", "billrecon.cli", "run", *options], cwd=workdir,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    return completed.returncode, completed.stdout


def one_line(output: str) -> str:
    assert "Traceback" not in output and "dagster._core" not in output, output
    lines = output.splitlines()
    assert len(lines) == 1, output
    return lines[0]


def with_log(line: str, workdir: Path) -> tuple[str, str]:
    """The line without its log path, and the log's text."""
    match = re.fullmatch(r"(.*) \(full log: (\S+)\)", line)
    assert match, line
    log = workdir / match.group(2)
    return match.group(1), log.read_text(encoding="utf-8")


def standard(inbox: Path, *extra: str) -> list[str]:
    return ["--month", MONTH, "--inbox", str(inbox), "--warehouse", "wh/billrecon.duckdb", "--reports", "reports",
            *extra]


BAD_REQUESTS = {
    "month not YYYY-MM": (["--month", "2026-8"], {},
                          "billrecon: argument --month: '2026-8' is not a month in the form YYYY-MM "
                          "(see `billrecon run --help`)"),
    "month outside the partitions": (["--month", "2019-12"], {},
                                     "billrecon: 2019-12 is not a bill cycle of this pipeline: give a month from "
                                     "2024-01 to {last} (the open month)"),
    "reports path is a file": (["--reports", "a-file"], {},
                               "billrecon: --reports a-file is a file, not a folder: give the path of a folder "
                               "(it is created when missing)"),
    "reports below a file": (["--reports", "a-file/out"], {},
                             "billrecon: --reports a-file/out cannot be created: a-file is a file, not a folder: "
                             "give the path of a folder (it is created when missing)"),
    "warehouse is not a DuckDB file": (["--warehouse", "a-file"], {},
                                       "billrecon: a-file is not a DuckDB warehouse file: check --warehouse "
                                       "(BILLRECON_WAREHOUSE); give a new path to start a warehouse there; the file "
                                       "was not changed"),
    "warehouse is a folder": (["--warehouse", "a-folder"], {},
                              "billrecon: the warehouse a-folder is a folder, not a DuckDB file: give the path of "
                              "the file (e.g. --warehouse warehouse/billrecon.duckdb)"),
    "a setting that is not a number": ([], {"BILLRECON_LEASE_TIMEOUT_SECONDS": "ten"},
                                       "billrecon: BILLRECON_LEASE_TIMEOUT_SECONDS='ten' is not a whole number: fix "
                                       "the variable (see .env.example) or unset it"),
    "a time limit that is not a number": ([], {"BILLRECON_MAX_RUNTIME_SECONDS": "4h"},
                                          "billrecon: BILLRECON_MAX_RUNTIME_SECONDS='4h' is not a whole number of "
                                          "seconds (0: no limit): fix the variable (see .env.example) or unset it"),
    "a negative time limit": (["--max-runtime", "-60"], {},
                              "billrecon: argument --max-runtime: -60 is negative (see `billrecon run --help`)"),
    "a renamed setting": ([], {"BILLRECON_DUCKDB_MEMORY_LIMIT": "4GB"},
                          "billrecon: BILLRECON_DUCKDB_MEMORY_LIMIT was renamed BILLRECON_MEMORY_LIMIT, now the run's "
                          "whole memory budget (DuckDB gets half of it): fix the variable (see .env.example) or unset it"),
    "a memory budget that is no size": ([], {"BILLRECON_MEMORY_LIMIT": "lots"},
                                        "billrecon: BILLRECON_MEMORY_LIMIT='lots' is not a memory size: give a number "
                                        "with one of the units KiB, MiB, GiB, TiB, KB, MB, GB, TB (e.g. 2GiB): fix the "
                                        "variable (see .env.example) or unset it"),
    "a memory budget too small to run in": ([], {"BILLRECON_MEMORY_LIMIT": "1KB"},
                                            "billrecon: BILLRECON_MEMORY_LIMIT='1KB' is less than 256MiB, the smallest "
                                            "budget a run works in (DuckDB gets half of it): fix the variable (see "
                                            ".env.example) or unset it"),
    "BSS endpoint without keys": ([], {"BILLRECON_BSS_ENDPOINT": "http://127.0.0.1:9"},
                                  "billrecon: BILLRECON_BSS_ENDPOINT is set but not BILLRECON_BSS_AK, BILLRECON_BSS_SK, "
                                  "BILLRECON_BSS_DOMAIN_ID: set them (see .env.example), or unset "
                                  "BILLRECON_BSS_ENDPOINT to run on the files alone"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_a_bad_request_is_one_line_and_exit_2_and_runs_nothing(tmp_path, world_dir, case):
    from pipelines.partitions import bill_cycle_partitions

    options, settings, expected = BAD_REQUESTS[case]
    (tmp_path / "a-file").write_text("month,amount\n2026-08,1\n")
    (tmp_path / "a-folder").mkdir()
    arguments = standard(world_dir)
    for name, value in zip(options[::2], options[1::2]):
        if name in arguments:
            arguments[arguments.index(name) + 1] = value
        else:
            arguments += [name, value]
    drop = ("BILLRECON_S3_ENDPOINT", "BILLRECON_BSS_AK", "BILLRECON_BSS_SK", "BILLRECON_BSS_DOMAIN_ID")
    code, output = run(tmp_path, *arguments, env_drop=drop, **settings)
    assert code == 2
    assert one_line(output) == expected.format(last=bill_cycle_partitions.get_partition_keys()[-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]  # nothing created
    assert (tmp_path / "a-file").read_text() == "month,amount\n2026-08,1\n"


def test_no_file_source_is_one_line_and_exit_2(tmp_path):
    code, output = run(tmp_path, "--month", MONTH, env_drop=("BILLRECON_S3_ENDPOINT", "BILLRECON_INBOX_DIR"))
    assert code == 2
    assert one_line(output) == ("billrecon: no file source configured: pass --inbox DIR, or set BILLRECON_S3_ENDPOINT "
                                "(and the bucket and keys) or BILLRECON_INBOX_DIR; see .env.example")


def test_an_outdated_warehouse_fails_the_run_once_with_the_differences(tmp_path, world_dir):
    warehouse = tmp_path / "wh" / "billrecon.duckdb"
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    ensure_schema(con)
    con.execute("alter table audit.model_builds drop column metadata")
    con.close()
    before = warehouse.read_bytes()
    code, output = run(tmp_path, *standard(world_dir))
    assert code == 1
    line, log = with_log(one_line(output), tmp_path)
    assert line == (f"billrecon: {MONTH} failed: the warehouse {warehouse} was built by another version of billrecon: "
                    "audit.model_builds lacks column(s) metadata. Rebuild it: move the file aside and run each month "
                    "again. No row was changed.")
    assert "WarehouseOutdated" in log and "Stack Trace" in log
    assert warehouse.read_bytes() == before
    assert not (tmp_path / "reports").exists()


def test_a_read_only_reports_folder_fails_the_run_with_the_folder_named(tmp_path, world_dir):
    (tmp_path / "reports").mkdir()
    code, output = run(tmp_path, *standard(world_dir), prefix=tuple(on_private_tmpfs(tmp_path / "reports", "ro")))
    assert code == 1
    line, log = with_log(one_line(output), tmp_path)
    assert line == (f"billrecon: {MONTH} failed: cannot write reports/{MONTH} (Read-only file system): make that "
                    "folder writable for this user, or point --warehouse / --reports (BILLRECON_WAREHOUSE / "
                    "BILLRECON_REPORTS_DIR) at one that is")
    assert "OSError: [Errno 30] Read-only file system" in log
    # the warehouse holds the month: only the reports are missing, and the next run writes them
    con = duckdb.connect(str(tmp_path / "wh" / "billrecon.duckdb"), read_only=True)
    assert con.execute("select count(*) from marts.customer_monthly_expenditure where bill_cycle = ?",
                       [MONTH]).fetchone()[0] > 0
    con.close()


def test_a_full_disk_under_the_reports_fails_the_run_in_one_line(tmp_path, world_dir):
    (tmp_path / "reports").mkdir()
    code, output = run(tmp_path, *standard(world_dir),
                       prefix=tuple(on_private_tmpfs(tmp_path / "reports", "size=64k")))
    assert code == 1
    line, log = with_log(one_line(output), tmp_path)
    assert line == (f"billrecon: {MONTH} failed: no space left to write a file of the warehouse or the reports (No "
                    "space left on device): free space on that disk, or point --warehouse / --reports "
                    "(BILLRECON_WAREHOUSE / BILLRECON_REPORTS_DIR) at a disk with room, then run again (every step "
                    "already committed is whole)")
    assert "[Errno 28] No space left on device" in log


def test_a_full_disk_under_the_warehouse_fails_the_run_in_one_line(tmp_path, world_dir):
    (tmp_path / "wh").mkdir()
    code, output = run(tmp_path, *standard(world_dir), prefix=tuple(on_private_tmpfs(tmp_path / "wh", "size=1m")))
    assert code == 1
    line = one_line(output)
    # the first write that found the disk full names its file; the log is beside the warehouse, or
    # in the system's temporary folder when the warehouse's disk cannot take it either
    match = re.fullmatch(rf"billrecon: {MONTH} failed: no space left to write {re.escape(str(tmp_path))}/wh/\S+ \(No "
                         r"space left on device\): free space on that disk, or point --warehouse / --reports "
                         r"\(BILLRECON_WAREHOUSE / BILLRECON_REPORTS_DIR\) at a disk with room, then run again \(every "
                         r"step already committed is whole\)( \(and \d+ other failure\(s\), in the log\))? "
                         r"\(full log: (\S+)\)", line)
    assert match, line
    if not match.group(2).startswith("wh/"):
        assert match.group(2).startswith(f"{tmp_path}/billrecon-logs/billrecon-")
        assert "[Errno 28] No space left on device" in Path(match.group(2)).read_text(encoding="utf-8")


def test_inside_dagster_the_failed_step_carries_the_one_line_as_its_description(tmp_path, world_dir):
    from pipelines.runner import run_cycle
    from tests.integration.conftest import pipeline_resources

    resources = pipeline_resources(tmp_path, inbox=world_dir)
    (tmp_path / "a-file").write_text("not a folder")
    resources["reports"] = ReportsResource(out_dir=str(tmp_path / "a-file"))
    outcome = run_cycle(MONTH, resources)
    line = (f"cannot use {tmp_path}/a-file/{MONTH} (Not a directory): a file stands where a folder is needed, or the "
            "reverse; fix the path in --warehouse / --reports (BILLRECON_WAREHOUSE / BILLRECON_REPORTS_DIR)")
    assert not outcome.success
    assert outcome.failure == line  # the report step failed; the publish step after it did not run
    assert f"month_close_report failed:\ndagster._core.definitions.events.Failure: {line}" in outcome.details
    assert "NotADirectoryError" in outcome.details  # the cause, with its trace, for the log
