"""Commands that did the wrong thing quietly. `report` of a month the warehouse never built wrote a pack
saying its bill file was missing: it now refuses in one line (exit 2) having written nothing, and still
renders a month a run built without its bill file."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from billrecon.cli import EXIT_BAD_REQUEST, main
from billrecon.commands import month_spans
from pipelines.runner import run_cycle
from tests.fixtures.bill_files import member_csv
from tests.integration.conftest import pipeline_resources
from tests.integration.test_bad_input import _inbox
from tests.integration.test_held_deliveries import FOUR_LINES

BUILT = "2026-09"      # its bill file is in the inbox: 3 lines, 27.00 due
NO_FILE = "2026-10"    # built by a run, but no bill file was delivered for it


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


def test_report_of_built_months_renders_them_with_or_without_their_bill_file(built, tmp_path, monkeypatch, capsys):
    _clean_env(monkeypatch)
    reports = tmp_path / "reports"
    for month in (BUILT, NO_FILE):
        assert main(["report", "--month", month, "--warehouse", str(built), "--reports", str(reports)]) == 0
        assert capsys.readouterr().out == (f"{reports / month / f'month_close_{month}.html'}\n"
                                           f"{reports / month / f'month_close_{month}.xlsx'}\n")
    assert _bill_lines(reports / BUILT) == (3, Decimal("27"))
    assert _bill_lines(reports / NO_FILE) == (0, None)
    page = (reports / NO_FILE / f"month_close_{NO_FILE}.html").read_text(encoding="utf-8")
    assert f"No partner bill file has been delivered for {NO_FILE} yet" in page


def test_built_months_are_named_as_spans_of_consecutive_months():
    assert month_spans([]) == ""
    assert month_spans(["2026-09"]) == "2026-09"
    assert month_spans(["2025-11", "2025-12", "2026-01", "2026-03"]) == "2025-11 to 2026-01, 2026-03"

