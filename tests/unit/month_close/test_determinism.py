"""The same warehouse gives the same bytes; a render replaces the pack whole and leaves the caller's transaction alone."""

from __future__ import annotations

import pytest

from reports import render_month_close
from tests.unit.month_close.pack_warehouse import (
    ACME,
    CYCLE,
    RECON_CSVS,
    file_bytes,
)


def test_rendering_twice_gives_identical_files(warehouse, tmp_path):
    first = render_month_close(warehouse, CYCLE, tmp_path / "a", notes=["note"])
    # A different session time zone must not change anything either.
    warehouse.execute("SET TimeZone = 'Asia/Shanghai'")
    second = render_month_close(warehouse, CYCLE, tmp_path / "b", notes=["note"])
    first_files, second_files = file_bytes(tmp_path / "a"), file_bytes(tmp_path / "b")
    # csv exports, the all-lines Parquet file, html + xlsx, three bills and their statements
    assert len(first_files) == 6 + 1 + 2 + 3 + 3
    assert first_files == second_files
    assert [p.name for p in first.paths] == [p.name for p in second.paths]


def test_rerender_replaces_files_and_drops_stale_bills(warehouse, tmp_path):
    out = tmp_path / CYCLE
    stale = out / "customer_bills" / "gone-customer.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    render_month_close(warehouse, CYCLE, out)
    assert not stale.exists()
    assert not [p for p in out.rglob("*.tmp")]


def test_renders_inside_the_callers_open_transaction(warehouse, tmp_path):
    warehouse.execute("BEGIN TRANSACTION")
    warehouse.execute("UPDATE marts.customer_monthly_expenditure SET customer_name = 'Renamed' "
                      "WHERE customer_id = ?", [ACME[0]])
    result = render_month_close(warehouse, CYCLE, tmp_path / CYCLE)
    assert "Renamed" in result.html.read_text(encoding="utf-8")  # sees uncommitted work
    warehouse.execute("ROLLBACK")  # and leaves the caller's transaction to the caller


@pytest.mark.slow
def test_rendering_the_reconciliation_twice_gives_identical_files(recon_warehouse, tmp_path):
    render_month_close(recon_warehouse, CYCLE, tmp_path / "a", api_configured=True)
    recon_warehouse.execute("SET TimeZone = 'America/Los_Angeles'")
    render_month_close(recon_warehouse, CYCLE, tmp_path / "b", api_configured=True)
    first, second = file_bytes(tmp_path / "a"), file_bytes(tmp_path / "b")
    assert {f"{name}.csv" for name in RECON_CSVS} <= set(first)
    assert first == second
