"""`billrecon report` on a warehouse no run (of this release) finished on: one line saying what to do,
exit 2, no pack written and no log (it is a bad request, not a bug)."""

import duckdb

from billrecon.cli import EXIT_BAD_REQUEST, main
from pipelines.lib.warehouse import ensure_schema


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
