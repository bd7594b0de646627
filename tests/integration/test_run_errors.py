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


def run(workdir: Path, *options: str, **how) -> tuple[int, str]:
    return billrecon(workdir, "run", *options, **how)


def billrecon(workdir: Path, *arguments: str, prefix: tuple[str, ...] = (), env_drop=("BILLRECON_S3_ENDPOINT",),
              **settings: str) -> tuple[int, str]:
    # TMPDIR: a log that cannot go beside the warehouse goes to the temporary folder, the test's own
    env = {name: value for name, value in os.environ.items() if name not in env_drop}
    env.update({"PYTHONUNBUFFERED": "1", "TMPDIR": str(workdir), **settings})
    completed = subprocess.run([*prefix, sys.executable, "-m", "billrecon.cli", *arguments], cwd=workdir,
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


def failed_run(workdir: Path, *options: str, **how) -> tuple[str, str]:
    """The one line of a run that failed (exit 1), without its log path, and the log's text."""
    code, output = run(workdir, *options, **how)
    assert code == 1, output
    return with_log(one_line(output), workdir)


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
                              "billrecon: argument --max-runtime: -60 is not a whole number of at least 0 (0: no limit) "
                              "(see `billrecon run --help`)"),
    "a renamed setting": ([], {"BILLRECON_DUCKDB_MEMORY_LIMIT": "4GB"},
                          "billrecon: BILLRECON_DUCKDB_MEMORY_LIMIT was renamed BILLRECON_MEMORY_LIMIT, now the run's "
                          "whole memory budget (DuckDB gets half of it): fix the variable (see .env.example) or unset it"),
    "a memory budget that is no size": ([], {"BILLRECON_MEMORY_LIMIT": "lots"},
                                        "billrecon: BILLRECON_MEMORY_LIMIT='lots' is not a memory size: give a number "
                                        "with one of the units KiB, MiB, GiB, TiB, KB, MB, GB, TB (e.g. 2GiB): fix the "
                                        "variable (see .env.example) or unset it"),
    "no attempt at the BSS API": ([], {"BILLRECON_BSS_MAX_ATTEMPTS": "0"},
                                  "billrecon: BILLRECON_BSS_MAX_ATTEMPTS='0' must be at least 1 (the first try is an "
                                  "attempt: 1 means no retry): fix the variable (see .env.example) or unset it"),
    "no time for the BSS API's answer": ([], {"BILLRECON_BSS_TIMEOUT_SECONDS": "0"},
                                         "billrecon: BILLRECON_BSS_TIMEOUT_SECONDS='0' must be at least 1 (no answer "
                                         "comes in 0 seconds): fix the variable (see .env.example) or unset it"),
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


S3_KEYS = {"BILLRECON_S3_BUCKET": "bills", "BILLRECON_S3_ACCESS_KEY": "a", "BILLRECON_S3_SECRET_KEY": "s"}
S3_SETTINGS = ("BILLRECON_S3_ENDPOINT", *S3_KEYS, "BILLRECON_INBOX_DIR")
SOURCE_BAD_REQUESTS = {
    "not a URL": ({"BILLRECON_S3_ENDPOINT": "foo", **S3_KEYS},
                  "billrecon: BILLRECON_S3_ENDPOINT='foo' is not an http(s) URL: give the endpoint with its scheme, "
                  "e.g. https://obs.ap-southeast-1.myhuaweicloud.com"),
    "without its bucket and keys": ({"BILLRECON_S3_ENDPOINT": "http://127.0.0.1:1"},
                                    "billrecon: BILLRECON_S3_ENDPOINT is set but not BILLRECON_S3_BUCKET, "
                                    "BILLRECON_S3_ACCESS_KEY, BILLRECON_S3_SECRET_KEY: set them (see .env.example), or "
                                    "give the files' folder instead (--inbox DIR or BILLRECON_INBOX_DIR)"),
    "an inbox variable that is no folder": ({"BILLRECON_INBOX_DIR": "no-such-folder"},
                                            "billrecon: BILLRECON_INBOX_DIR no-such-folder is not a folder"),
}


@pytest.mark.parametrize("case", list(SOURCE_BAD_REQUESTS))
def test_a_file_source_that_cannot_work_is_refused_before_anything_runs(tmp_path, case):
    settings, expected = SOURCE_BAD_REQUESTS[case]
    code, output = run(tmp_path, "--month", MONTH, "--warehouse", "wh/billrecon.duckdb", env_drop=S3_SETTINGS,
                       **settings)
    assert code == 2
    assert one_line(output) == expected
    assert list(tmp_path.iterdir()) == []


def test_an_account_whose_inbox_is_no_folder_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "partners.toml").write_text('[[partner]]\nid = "acme"\nname = "Acme"\nsite = "intl"\n'
                                            'currency = "USD"\n[partner.files]\ninbox = "no-such-folder"\n')
    code, output = run(tmp_path, "--month", MONTH, env_drop=S3_SETTINGS, BILLRECON_PARTNERS_FILE="partners.toml",
                       BILLRECON_PARTNER_ID="acme")
    assert code == 2
    assert one_line(output) == ("billrecon: partners.toml: account acme: [partner.files] inbox no-such-folder is not "
                                "a folder")
    assert [path.name for path in tmp_path.iterdir()] == ["partners.toml"]


def test_an_s3_endpoint_that_does_not_answer_fails_the_run_in_one_line(tmp_path):
    # port 1 on the loopback: nothing listens there, so the connection is refused at once
    line, log = failed_run(tmp_path, "--month", MONTH, "--warehouse", "wh/billrecon.duckdb", "--reports", "reports",
                           env_drop=S3_SETTINGS, BILLRECON_S3_ENDPOINT="http://127.0.0.1:1", **S3_KEYS)
    # every landing step found the endpoint shut: one line says it once
    assert line == (f"billrecon: {MONTH} failed: cannot reach the S3 endpoint http://127.0.0.1:1 (Connection refused): "
                    "check BILLRECON_S3_ENDPOINT and that the server is up and reachable from here, then run again "
                    "(the month keeps the files landed before)")
    assert "EndpointConnectionError" in log
    con = duckdb.connect(str(tmp_path / "wh" / "billrecon.duckdb"), read_only=True)
    assert con.execute("select count(*) from landing.objects").fetchone() == (0,)
    con.close()
    assert not (tmp_path / "reports").exists()


def test_a_bss_api_that_does_not_answer_fails_the_run_in_one_line_without_the_sdk_s_logging(tmp_path, world_dir):
    # the SDK logs each refused connection on stderr unless billrecon gives its logger a handler
    line, log = failed_run(tmp_path, *standard(world_dir), BILLRECON_BSS_ENDPOINT="http://127.0.0.1:1",
                           BILLRECON_BSS_AK="ak", BILLRECON_BSS_SK="sk", BILLRECON_BSS_DOMAIN_ID="d",
                           BILLRECON_BSS_MAX_ATTEMPTS="1")
    assert re.fullmatch(rf"billrecon: {MONTH} failed: (GET|POST) /v\S+ failed: connection to http://127.0.0.1:1 failed "
                        r"\(ConnectionException\)( \(and \d+ other failure\(s\), in the log\))?", line), line
    assert "landed_api_" in log and "ConnectionException occurred" not in log  # the step failures, said once


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


def test_a_read_only_reports_folder_is_refused_before_the_run_with_the_folder_named(tmp_path, world_dir):
    # found up front by trying to create a folder in it: the run used to build the whole month first,
    # then fail at its reports (the line for one that turns read-only during a run: test_output_paths)
    (tmp_path / "reports").mkdir()
    code, output = run(tmp_path, *standard(world_dir), prefix=tuple(on_private_tmpfs(tmp_path / "reports", "ro")))
    assert code == 2
    assert one_line(output) == ("billrecon: --reports reports cannot be written (Read-only file system): give the "
                                "path of a folder this user can create and write")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["reports"]  # nothing ran, no log


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
        # the cause in the words of the writer that met the full disk: Python's, or DuckDB's (its log file)
        log = Path(match.group(2)).read_text(encoding="utf-8")
        assert re.search(r'\[Errno 28\] No space left on device|Could not write file "\S+": No space left on device', log)


def test_inside_dagster_the_failed_step_carries_the_one_line_as_its_description(tmp_path, world_dir):
    from pipelines.runner import run_cycle
    from tests.integration.conftest import pipeline_resources

    resources = pipeline_resources(tmp_path, inbox=world_dir)
    (tmp_path / "a-file").write_text("not a folder")
    resources["reports"] = ReportsResource(out_dir=str(tmp_path / "a-file"))
    outcome = run_cycle(MONTH, resources)
    line = (f"cannot use {tmp_path}/a-file/{MONTH} (Not a directory): a file stands where a folder is needed, or the "
            "reverse; fix the path in BILLRECON_REPORTS_DIR")
    assert not outcome.success
    assert outcome.failure == line  # the report step failed; the publish step after it did not run
    assert f"month_close_report failed:\ndagster._core.definitions.events.Failure: {line}" in outcome.details
    assert "NotADirectoryError" in outcome.details  # the cause, with its trace, for the log


def test_a_dagster_run_whose_reports_folder_takes_no_files_names_the_setting_not_a_bug(tmp_path, world_dir):
    """A run Dagster starts (a schedule, a sensor) has no up-front check of the command line: the report
    step's failure itself says which setting to fix, whatever the file system answered (/proc: ENOENT)."""
    from pipelines.runner import run_cycle
    from tests.integration.conftest import pipeline_resources

    resources = pipeline_resources(tmp_path, inbox=world_dir)
    resources["reports"] = ReportsResource(out_dir="/proc/billrecon-reports")
    outcome = run_cycle(MONTH, resources)
    assert not outcome.success
    assert outcome.failure == ("cannot write /proc/billrecon-reports (No such file or directory): point "
                               "BILLRECON_REPORTS_DIR at a folder this user can create and write")


DAMAGED_WAREHOUSE = {  # command -> its exit status, and what its line starts with
    "run": (1, f"billrecon: {MONTH} failed: "),
    "report": (1, "billrecon: "),
    "accept": (1, "billrecon: "),
    "export": (2, "billrecon: "),
}


@pytest.mark.parametrize("command", list(DAMAGED_WAREHOUSE))
def test_a_truncated_warehouse_is_named_damaged_with_how_to_put_it_back_and_left_as_it_was(tmp_path, world_dir,
                                                                                          command):
    warehouse = tmp_path / "wh" / "billrecon.duckdb"
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    ensure_schema(con)
    con.close()
    (tmp_path / "wh" / "published").mkdir()
    (tmp_path / "wh" / "published" / "billrecon.duckdb").write_bytes(warehouse.read_bytes())
    truncated = warehouse.read_bytes()[:4096]  # a copy cut short (an interrupted copy, a full disk)
    warehouse.write_bytes(truncated)
    arguments = {
        "run": ["run", *standard(world_dir)],
        "report": ["report", "--month", MONTH, "--warehouse", "wh/billrecon.duckdb", "--reports", "reports"],
        "accept": ["accept", "--key", "customerBill/customerBill_202608.tar.gz", "--warehouse", "wh/billrecon.duckdb"],
        "export": ["export", "focus", "--month", MONTH, "--view", "partner", "--out", "focus.csv", "--warehouse",
                   "wh/billrecon.duckdb"],
    }[command]
    code, output = billrecon(tmp_path, *arguments)
    status, start = DAMAGED_WAREHOUSE[command]
    assert code == status
    line = one_line(output) if status == 2 else with_log(one_line(output), tmp_path)[0]
    assert line == (f"{start}the warehouse wh/billrecon.duckdb is damaged and cannot be read (Could not read enough "
                    f'bytes from file "{warehouse}": attempted to read 4096 bytes from location 4096); it was not '
                    "changed: put back a copy (the published snapshot wh/published/billrecon.duckdb, as of the last "
                    "complete run, or a backup), or move it aside and run each month again")
    assert warehouse.read_bytes() == truncated
    assert not (tmp_path / "reports").exists() and not (tmp_path / "focus.csv").exists()
