"""The month-close tests' warehouse, and the pack rendered from it with and without the
reconciliation marts."""

import duckdb
import pytest

from reports import render_month_close
from tests.unit.month_close.pack_warehouse import (
    ACME,
    CHINESE,
    CYCLE,
    FORMULA,
    OPEN_MONTH,
    build_warehouse,
)
from tests.unit.reconciliation_marts import create_reconciliation_marts, fill_reconciliation_marts


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    build_warehouse(con)
    yield con
    con.close()


@pytest.fixture
def report(warehouse, tmp_path):
    return render_month_close(warehouse, CYCLE, tmp_path / CYCLE,
                              notes=["BSS API not configured: tie-outs skipped"])


@pytest.fixture
def recon_warehouse(warehouse):
    create_reconciliation_marts(warehouse)
    fill_reconciliation_marts(warehouse, CYCLE, OPEN_MONTH,
                              {"chinese": CHINESE, "acme": ACME, "formula": FORMULA})
    return warehouse


@pytest.fixture
def recon_report(recon_warehouse, tmp_path):
    return render_month_close(recon_warehouse, CYCLE, tmp_path / CYCLE, notes=["a note"],
                              api_configured=True)
