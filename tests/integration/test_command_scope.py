"""Commands that did the wrong thing quietly: `report` of a month the warehouse never built wrote a pack
saying its bill file was missing; `accept --warehouse ducklake:…` released nothing in the lake's working
file (it opened the default file); `demo` ran its months with the default memory budget whatever
BILLRECON_MEMORY_LIMIT said. Each now does what was asked, or refuses in one line (exit 2) having done
nothing."""

from __future__ import annotations

import getpass
import os
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from billrecon import sandbox_commands
from billrecon.cli import EXIT_BAD_REQUEST, main
from billrecon.commands import EXIT_HELD, month_spans
from billrecon.lake_demo import run_environment
from pipelines.lib import lakehouse
from pipelines.runner import run_cycle
from tests.fixtures.bill_files import member_csv
from tests.integration.conftest import pipeline_resources
from tests.integration.test_bad_input import _inbox
from tests.integration.test_held_deliveries import FOUR_LINES, KEY, MEMBER

BUILT = "2026-09"      # its bill file is in the inbox: 3 lines, 27.00 due
NO_FILE = "2026-10"    # built by a run, but no bill file was delivered for it
TOO_SMALL = ("billrecon: BILLRECON_MEMORY_LIMIT='128MiB' is less than 256MiB, the smallest budget a run works in "
             "(DuckDB gets half of it): fix the variable (see .env.example) or unset it")


def _clean_env(monkeypatch, **settings: str) -> None:
    """No BILLRECON_* of the shell; `settings` instead. Each variable `run` writes into the environment
    is set here first, so that the test's end puts it back."""
    for name in [name for name in os.environ if name.startswith("BILLRECON_")]:
        monkeypatch.delenv(name)
    for name in ("BILLRECON_INBOX_DIR", "BILLRECON_WAREHOUSE", "BILLRECON_REPORTS_DIR"):
        monkeypatch.setenv(name, "unset-by-the-test")
        monkeypatch.delenv(name)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


def _bad_request(capsys, arguments: list[str]) -> str:
    """The one line of a command refused as a bad request (nothing on stdout)."""
    code = main(arguments)
    captured = capsys.readouterr()
    assert (code, captured.out) == (EXIT_BAD_REQUEST, ""), captured
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1, captured.err
    return captured.err.rstrip("\n")


# ------------------------------------------------------------------------------------------- report

@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A warehouse whose runs built BUILT (its bill file delivered) and NO_FILE (none delivered)."""
    root = tmp_path_factory.mktemp("built")
    inbox = _inbox(root, {"customerBill_202609_0001.csv": member_csv(FOUR_LINES[:3])})
    resources = pipeline_resources(root, inbox=inbox)
    for cycle in (BUILT, NO_FILE):
        outcome = run_cycle(cycle, resources)
        assert outcome.success, outcome.failure
    return Path(resources["warehouse"].path)


@pytest.mark.parametrize("month", ["2026-08", "2026-11"], ids=["before-the-first", "after-the-last"])
def test_report_of_a_month_never_built_is_refused_and_writes_no_pack(built, tmp_path, monkeypatch, capsys, month):
    _clean_env(monkeypatch)
    reports = tmp_path / "reports"
    line = _bad_request(capsys, ["report", "--month", month, "--warehouse", str(built), "--reports", str(reports)])
    assert line == (f"billrecon: {month} has not been built in {built} (its built months: 2026-09 to 2026-10); "
                    f"run `billrecon run --month {month}` first, which builds the month and writes its pack")
    assert not reports.exists()


def test_report_on_a_warehouse_with_no_month_built_says_none_yet(built, tmp_path, monkeypatch, capsys):
    _clean_env(monkeypatch)
    warehouse = tmp_path / "billrecon.duckdb"
    shutil.copy(built, warehouse)
    con = duckdb.connect(str(warehouse))
    con.execute("delete from audit.model_builds")  # the marts are there, no run's build of any month
    con.close()
    line = _bad_request(capsys, ["report", "--month", BUILT, "--warehouse", str(warehouse),
                                 "--reports", str(tmp_path / "reports")])
    assert line == (f"billrecon: {BUILT} has not been built in {warehouse} (its built months: none yet); run "
                    f"`billrecon run --month {BUILT}` first, which builds the month and writes its pack")
    assert not (tmp_path / "reports").exists()


def _bill_lines(folder: Path) -> tuple[int, Decimal | None]:
    (count, due), = duckdb.sql(f"select count(*), sum(amount_due) from '{folder / 'customer_bill_line.parquet'}'"
                               ).fetchall()
    return count, due


@pytest.mark.parametrize("as_lake", [False, True], ids=["file", "lake-working-file"])
def test_report_of_built_months_renders_them_with_or_without_their_bill_file(built, tmp_path, monkeypatch, capsys,
                                                                            as_lake):
    # --warehouse ducklake:… names the account's working file, as for `run`; the lake itself is not read
    _clean_env(monkeypatch, **({"BILLRECON_WORKING_WAREHOUSE": str(built)} if as_lake else {}))
    option = "ducklake:postgres:host=127.0.0.1 port=1 dbname=unreached" if as_lake else str(built)
    reports = tmp_path / "reports"
    for month in (BUILT, NO_FILE):
        assert main(["report", "--month", month, "--warehouse", option, "--reports", str(reports)]) == 0
        assert capsys.readouterr().out == (f"{reports / month / f'month_close_{month}.html'}\n"
                                           f"{reports / month / f'month_close_{month}.xlsx'}\n")
    assert _bill_lines(reports / BUILT) == (3, Decimal("27"))
    assert _bill_lines(reports / NO_FILE) == (0, None)
    page = (reports / NO_FILE / f"month_close_{NO_FILE}.html").read_text(encoding="utf-8")
    assert f"No partner bill file has been delivered for {NO_FILE} yet" in page


def test_export_with_a_lake_reads_its_working_file_as_the_file_itself(built, tmp_path, monkeypatch, capsys):
    _clean_env(monkeypatch, BILLRECON_WORKING_WAREHOUSE=str(built))
    monkeypatch.chdir(tmp_path)  # the default warehouse file, which export used to open, would be here
    files = {}
    for name, option in (("file", str(built)), ("lake", "ducklake:postgres:host=127.0.0.1 port=1 dbname=unreached")):
        files[name] = tmp_path / f"{name}.csv"
        assert main(["export", "focus", "--month", BUILT, "--view", "partner", "--out", str(files[name]),
                     "--warehouse", option]) == 0
        assert capsys.readouterr().out == f"{files[name]}: 3 rows (partner view, {BUILT})\n"
    assert files["lake"].read_bytes() == files["file"].read_bytes()


def test_built_months_are_named_as_spans_of_consecutive_months():
    assert month_spans([]) == ""
    assert month_spans(["2026-09"]) == "2026-09"
    assert month_spans(["2025-11", "2025-12", "2026-01", "2026-03"]) == "2025-11 to 2026-01, 2026-03"


# ------------------------------------------------------------------------------------------- accept

def test_accept_on_a_lake_releases_the_hold_in_its_working_file_and_the_next_run_applies_it(
        tmp_path, monkeypatch, capsys, postgres_database):
    lake = lakehouse.LAKE_PREFIX + postgres_database
    working = tmp_path / "work" / "billrecon.duckdb"
    _clean_env(monkeypatch, BILLRECON_LAKE_DATA_PATH=f"{tmp_path / 'lake'}/",
               BILLRECON_WORKING_WAREHOUSE=str(working))
    monkeypatch.chdir(tmp_path)  # the default warehouse file, which accept used to open, would be here
    inbox = _inbox(tmp_path, {MEMBER: member_csv(FOUR_LINES)})
    run = ["run", "--month", BUILT, "--inbox", str(inbox), "--warehouse", lake, "--reports", str(tmp_path / "reports")]
    assert main(run) == 0
    archive = inbox / KEY
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])  # a re-delivery cut short: held
    assert main(run) == EXIT_HELD
    capsys.readouterr()

    monkeypatch.delenv("BILLRECON_WAREHOUSE")  # `run` wrote its --warehouse there; accept has only its own
    assert main(["accept", "--key", KEY, "--warehouse", lake]) == 0
    assert capsys.readouterr().out.startswith(f"released {KEY} (ETag ")
    assert not (tmp_path / "warehouse").exists()
    assert main(run) == 0

    con = lakehouse.connect(lakehouse.LakeSettings.from_values(lake, f"{tmp_path / 'lake'}/"), read_only=True)
    try:
        # what could be read of the accepted delivery (nothing) replaced the month's four lines
        assert con.execute("select count(*) from marts.customer_bill_line where bill_cycle = ?",
                           [BUILT]).fetchall() == [(0,)]
        assert con.execute("""select customer_id, lines_added, lines_removed, amount_due_delta from marts.restatement
                              where partner_account_id = 'default' order by customer_id""").fetchall() == [
            ("cust-1", 0, 2, Decimal("-18")), ("cust-2", 0, 1, Decimal("-9")), ("cust-3", 0, 1, Decimal("-9"))]
        assert con.execute("select object_key, released_by from audit.held_deliveries").fetchall() == [
            (KEY, getpass.getuser())]
    finally:
        con.close()


def test_accept_on_a_lake_without_its_working_file_here_is_refused(tmp_path, monkeypatch, capsys):
    working = tmp_path / "work" / "billrecon.duckdb"
    _clean_env(monkeypatch, BILLRECON_WORKING_WAREHOUSE=str(working))
    monkeypatch.chdir(tmp_path)
    line = _bad_request(capsys, ["accept", "--key", KEY, "--warehouse", "ducklake:postgres:host=db dbname=lake"])
    assert line == (f"billrecon: the working file {working} of the DuckLake's runs (BILLRECON_WORKING_WAREHOUSE, "
                    "default warehouse/<partner id>/billrecon.duckdb) does not exist: nothing is held; run this "
                    "where the account's runs keep it, with their BILLRECON_WORKING_WAREHOUSE")
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------- demo

TINY = ["--customers", "2", "--resellers", "0", "--lines", "40", "--months", "1", "--first-month", "2026-10"]


def test_demo_refuses_a_lake_for_its_warehouse_file(tmp_path, monkeypatch, capsys):
    _clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    line = _bad_request(capsys, ["demo", *TINY, "--warehouse", "ducklake:postgres:host=db dbname=lake"])
    assert line == ("billrecon: --warehouse names a DuckLake (ducklake:…), but the demo (re)creates a DuckDB file "
                    "there: give the path of a file, or run `billrecon demo --lake [DIR]` for the demo on a DuckLake")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("lake", [[], ["--lake", "demo-lake"]], ids=["demo", "demo-lake"])
def test_demo_refuses_a_memory_budget_below_the_minimum_before_anything_is_made(tmp_path, monkeypatch, capsys, lake):
    _clean_env(monkeypatch, BILLRECON_MEMORY_LIMIT="128MiB")
    monkeypatch.chdir(tmp_path)
    assert _bad_request(capsys, ["demo", *lake, *TINY]) == TOO_SMALL
    assert not any(tmp_path.iterdir())


def test_the_demo_s_runs_keep_to_the_memory_budget(tmp_path, monkeypatch):
    _clean_env(monkeypatch, BILLRECON_MEMORY_LIMIT="300MiB")
    seen = {}

    real_run = sandbox_commands.run_cycle_with_progress

    def run_watched(cycle, resources, instance=None):
        # what DuckDB is set to on the warehouse connections of the run the demo starts, then the run itself
        with resources["warehouse"].connect() as con:
            seen[cycle] = con.execute("select current_setting('memory_limit')").fetchone()[0]
        return real_run(cycle, resources, instance)

    monkeypatch.setattr(sandbox_commands, "run_cycle_with_progress", run_watched)
    assert main(["demo", *TINY, "--warehouse", str(tmp_path / "wh" / "billrecon.duckdb"), "--reports",
                 str(tmp_path / "reports"), "--world-dir", str(tmp_path / "world"),
                 "--dagster-home", str(tmp_path / "dagster")]) == 0
    assert seen == {"2026-10": "150.0 MiB", "2026-11": "150.0 MiB"}  # DuckDB's half of 300 MiB


def test_the_lake_demo_s_runs_get_the_memory_budget_and_no_other_setting(tmp_path, monkeypatch):
    _clean_env(monkeypatch, BILLRECON_MEMORY_LIMIT="300MiB", BILLRECON_S3_BUCKET="the-shell-s-bucket")
    env = run_environment(tmp_path, tmp_path / "partners.toml", "ducklake:postgres:dbname=lake", {})
    assert env["BILLRECON_MEMORY_LIMIT"] == "300MiB"
    assert "BILLRECON_S3_BUCKET" not in env
