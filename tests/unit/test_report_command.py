"""`billrecon report` on a warehouse no run (of this release) finished on: one line saying what to do,
exit 2, no pack written and no log (it is a bad request, not a bug). And on a built month: the pack says
the BSS partner API was missing only when the warehouse's month was built without it."""

import html
import os
import re

import duckdb
import openpyxl
import pytest

from billrecon.cli import EXIT_BAD_REQUEST, main
from pipelines.lib.bss import DATASETS
from pipelines.lib.warehouse import SQL_DIR, ensure_schema
from reports.notes import API_SOURCE_PREFIX, api_absent_note
from reports.reconciliation_areas import API_NOT_CONFIGURED
from tests.unit.month_close.pack_warehouse import (
    ACME,
    CHINESE,
    CYCLE,
    FORMULA,
    MARCH_FILE,
    MARCH_MEMBER,
    OPEN_MONTH,
    build_warehouse,
    cells_of,
)
from tests.unit.reconciliation_marts import create_reconciliation_marts, fill_reconciliation_marts


def report_error(tmp_path, capsys) -> str:
    """What `billrecon report` of 2026-10 printed on billrecon.duckdb, once it refused (and wrote nothing)."""
    code = main(["report", "--month", "2026-10", "--warehouse", "billrecon.duckdb", "--reports", "reports"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (EXIT_BAD_REQUEST, "")
    assert not (tmp_path / "reports" / "2026-10").exists()
    assert not (tmp_path / "logs").exists()
    return captured.err


def test_report_on_a_warehouse_without_marts_says_the_month_is_not_built(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    con = duckdb.connect("billrecon.duckdb")
    ensure_schema(con)   # landing, staging and audit tables, as a run that stopped before the models leaves them
    con.close()
    assert report_error(tmp_path, capsys) == (
        "billrecon: 2026-10 has not been built: billrecon.duckdb has no marts.customer_monthly_expenditure, "
        "marts.customer_bill_line, marts.data_quality (no run finished on it); run `billrecon run --month "
        "2026-10` first\n")


def test_report_on_a_warehouse_of_an_earlier_release_asks_for_a_run_of_this_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    con = duckdb.connect("billrecon.duckdb")
    ensure_schema(con)
    for mart in ("customer_monthly_expenditure", "customer_bill_line", "data_quality"):
        con.execute(f"create table marts.{mart} (bill_cycle varchar)")
    con.execute("drop table audit.rules")  # the rules catalogue came with a later release
    con.close()
    assert report_error(tmp_path, capsys) == (
        "billrecon: billrecon.duckdb was built by an earlier release of billrecon (it has no audit.rules): run "
        "`billrecon run --month 2026-10` again, which rebuilds the month and writes its pack\n")


# `billrecon report` re-renders a pack from the warehouse alone: whether the month was built with the BSS
# partner API is what the warehouse holds (its pulls in marts.data_quality), never this shell's BILLRECON_BSS_*.

BSS_SETTINGS = {"BILLRECON_BSS_ENDPOINT": "https://bss-intl.example", "BILLRECON_BSS_AK": "ak",
                "BILLRECON_BSS_SK": "sk", "BILLRECON_BSS_DOMAIN_ID": "domain"}
# what a run with the API leaves in marts.data_quality for the month: a dataset pulled per bill cycle, and
# one pulled as of the run (no cycle)
API_PULLS = [("api:partner_monthly_bill", "api/partner_monthly_bill/20260405T010000Z_ab12.json", CYCLE),
             ("api:budgets", "api/budgets/20260405T010000Z_cd34.json", None)]


def built_month(path, api_pulls) -> None:
    """The month-close tests' warehouse of CYCLE in a file, with its reconciliation marts filled, its bill
    file in audit.loads, ``api_pulls`` (source, snapshot, cycle) in marts.data_quality, and the build of
    its bill lines that every run of the month records (the month is built)."""
    con = duckdb.connect(str(path))
    try:
        build_warehouse(con)
        create_reconciliation_marts(con)
        fill_reconciliation_marts(con, CYCLE, OPEN_MONTH, {"chinese": CHINESE, "acme": ACME, "formula": FORMULA})
        con.execute((SQL_DIR / "audit" / "loads.sql").read_text(encoding="utf-8"))
        con.execute("insert into audit.loads values ('load-0001', 'customerBill', ?, 'etag-1', 'sha-1', ?, ?, "
                    "10, 8, 2, 1, 'quarantined_rows', null, '2026-04-05 03:00:00+00')",
                    [MARCH_FILE, MARCH_MEMBER, CYCLE])
        con.execute((SQL_DIR / "audit" / "model_builds.sql").read_text(encoding="utf-8"))
        con.execute("insert into audit.model_builds values ('core.rated_bill_line', ?, 'fingerprint', '{}', "
                    "'2026-04-05 03:10:00+00')", [CYCLE])
        con.executemany(
            "insert into marts.data_quality (source, object_key, member, bill_cycle, rows_read, rows_loaded, "
            "rows_quarantined, findings_count, status, first_error, landed_at) "
            "values (?, ?, null, ?, 4, 4, 0, 0, 'ok', null, null)", api_pulls)
    finally:
        con.close()


def rendered_pack(tmp_path, monkeypatch, api_pulls, shell) -> tuple[str, str, list[str]]:
    """`billrecon report` of CYCLE in a shell with the ``shell`` variables (and no other BILLRECON_*): the
    page, its text, and every text of the workbook (cells of every sheet, and its comments)."""
    for variable in [name for name in os.environ if name.startswith("BILLRECON_")]:
        monkeypatch.delenv(variable)
    for variable, value in shell.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.chdir(tmp_path)
    built_month(tmp_path / "billrecon.duckdb", api_pulls)
    assert main(["report", "--month", CYCLE, "--warehouse", "billrecon.duckdb", "--reports", "reports"]) == 0
    folder = tmp_path / "reports" / CYCLE
    page = (folder / f"month_close_{CYCLE}.html").read_text(encoding="utf-8")
    body = re.sub(r"<style.*?</style>", "", page, flags=re.DOTALL).replace("<wbr>", "")
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    workbook = openpyxl.load_workbook(folder / f"month_close_{CYCLE}.xlsx")
    cells = [str(cell.value) for sheet in workbook.worksheets for cell in cells_of(sheet)]
    return page, text, [*cells, workbook.properties.description or ""]


def without_the_api(texts: list[str]) -> list[str]:
    return [text for text in texts if "not configured" in text or "without the bss partner api" in text.lower()]


def test_the_pulls_the_report_looks_for_are_those_staging_records():
    # reports may not import pipelines: the prefix is written twice, and this keeps the two the same
    assert all(dataset.source.startswith(API_SOURCE_PREFIX) for dataset in DATASETS.values())
    assert {"partner_monthly_bill", "customer_monthly_sums", "orders", "incentive_policies"} == {
        dataset.name for dataset in DATASETS.values() if dataset.bound_to == "cycle"}


@pytest.mark.parametrize("shell", [{}, BSS_SETTINGS], ids=["shell-without-bss", "shell-with-bss"])
def test_report_of_a_month_built_with_the_api_has_no_api_note_whatever_the_shell(tmp_path, monkeypatch, shell):
    page, text, workbook = rendered_pack(tmp_path, monkeypatch, API_PULLS, shell)
    assert without_the_api([text]) == [] and without_the_api(workbook) == []
    assert "not available" not in text.lower() and "not checked" not in text.lower()
    # the API's parts are shown, with their data (as before the fix, when only the note contradicted them)
    for table in ("partner_bill_tieout", "incentive_reconciliation", "budget_status"):
        assert f'data-table="{table}"' in page, table


@pytest.mark.parametrize("shell", [{}, BSS_SETTINGS], ids=["shell-without-bss", "shell-with-bss"])
def test_report_of_a_month_built_from_the_files_alone_says_so_whatever_the_shell(tmp_path, monkeypatch, shell):
    # the budgets pulled as of an earlier run do not make the month one built with the API
    page, text, workbook = rendered_pack(tmp_path, monkeypatch, API_PULLS[1:], shell)
    note = api_absent_note(CYCLE)
    assert note.startswith(f"Built without the BSS partner API: this warehouse holds no pull of it for {CYCLE}")
    assert note in text and note in workbook
    # and the areas that compare with the API are not shown, as in the pack of the run that built the month
    assert "Not checked: Bill tie-out, Incentives, Budgets, Coupons." in text
    assert API_NOT_CONFIGURED.lower() in text.lower()
    for table in ("partner_bill_tieout", "incentive_reconciliation", "budget_status"):
        assert f'data-table="{table}"' not in page, table
    assert "Rules that compare with the BSS API were not checked" in text
