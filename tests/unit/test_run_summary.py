"""The figures `billrecon run` and `demo` print per cycle, on the month-close tests' warehouse
(whose totals are worked out by hand in tests/unit/month_close/pack_warehouse.py)."""

from decimal import Decimal

import duckdb
import pytest

from pipelines.lib.warehouse import SQL_DIR
from reports.run_summary import cycle_figures, figures_table
from tests.unit.month_close.pack_warehouse import CYCLE, EMPTY_CYCLE, MARCH_FILE, build_warehouse


def _load(source: str, bill_cycle: str | None, member: str, loaded: int, quarantined: int) -> tuple:
    return ("load-1", source, MARCH_FILE, "etag", "sha", member, bill_cycle, loaded + quarantined, loaded,
            quarantined, 0, "ok", None, "2026-04-05 03:00:00+00")


@pytest.fixture
def warehouse():
    con = duckdb.connect(":memory:")
    build_warehouse(con)
    con.execute((SQL_DIR / "audit" / "loads.sql").read_text(encoding="utf-8"))
    con.executemany(
        "INSERT INTO audit.loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMPTZ)",
        [_load("customerBill", CYCLE, "part_0001.csv", 8, 2),
         _load("customerBill", CYCLE, "part_0002.csv", 5, 0),
         # neither the agreements nor another month's bill file count toward the cycle's lines
         _load("agreements", None, "agreements.csv", 3, 1),
         _load("customerBill", "2026-02", "part_0001.csv", 4, 4)])
    yield con
    con.close()


def test_a_cycles_figures_are_its_bill_file_rows_and_the_expenditure_marts_totals(warehouse):
    figures = cycle_figures(warehouse, CYCLE)
    assert (figures.lines_loaded, figures.lines_quarantined) == (13, 2)
    totals = figures.totals
    assert totals.customer_count == 3
    # amount due with refunds and adjustments: 2,472.26975231 - 70 - 50
    assert totals.net_amount_due == Decimal("2352.26975231")
    assert totals.customer_charge_amount == Decimal("3067.73394956")
    assert totals.margin_amount == Decimal("665.46419725")


def test_the_table_has_one_row_per_cycle_and_zeros_for_a_cycle_without_a_bill_file(warehouse):
    assert figures_table(warehouse, [CYCLE, EMPTY_CYCLE]) == [
        "cycle        lines  quarantined  customers      amount due   customer charge        margin",
        "2026-03         13            2          3        2,352.27          3,067.73        665.46",
        "2026-04          0            0          0            0.00              0.00          0.00",
    ]
