"""The warehouse contract (schemas/warehouse_contract.py) against the warehouse the models build: every
public column has an entry, every entry a column, the comments are in the catalog of the working file
and of the published snapshot, and the README's section is the one the contract generates."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.lib.publish import publish
from pipelines.lib.sql_models import run_model
from pipelines.lib.warehouse import SQL_DIR, apply_comments, ensure_schema
from schemas.warehouse_contract import (
    RATIO,
    README,
    SNAPSHOT_ONLY,
    TABLES,
    column_note,
    readme_with_section,
    table_contract,
)
from tests.unit.warehouse_models import build_every_model

CYCLE = "2026-09"
PUBLIC_AUDIT_TABLES = {"audit.loads", "audit.quarantine", "audit.findings", "audit.restatement_line",
                       "audit.held_deliveries", "audit.rules"}


def build(con: duckdb.DuckDBPyConnection) -> None:
    ensure_schema(con)
    build_every_model(con, CYCLE)  # so that every mart exists (empty: the columns are what is compared)


def public_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str | None]]]:
    """schema.table -> [(column, comment)] of marts.* and the audit tables analysts read."""
    tables: dict[str, list[tuple[str, str | None]]] = {}
    for table, column, comment in con.execute(
            """select schema_name || '.' || table_name, column_name, comment from duckdb_columns()
               where database_name = current_database() and schema_name in ('marts', 'audit')
               order by schema_name, table_name, column_index""").fetchall():
        if table.startswith("marts.") or table in PUBLIC_AUDIT_TABLES | SNAPSHOT_ONLY:
            tables.setdefault(table, []).append((column, comment))
    return tables


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("contract") / "billrecon.duckdb"
    con = duckdb.connect(str(path))
    build(con)
    con.close()
    return path


def test_every_public_column_has_an_entry_and_every_entry_a_column(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        actual = {table: [column for column, _ in columns] for table, columns in public_columns(con).items()}
    finally:
        con.close()
    assert set(actual) == {f"marts.{t.stem}" for t in (SQL_DIR / "marts").glob("*.sql")} | PUBLIC_AUDIT_TABLES
    # the snapshot's own tables are checked in the snapshot (below): the working file has none
    contract = {table.name: [column.name for column in table.columns] for table in TABLES
                if table.name not in SNAPSHOT_ONLY}
    assert set(contract) == set(actual)
    for table, columns in actual.items():
        assert [c for c in columns if c not in contract[table]] == [], f"{table}: columns without a contract entry"
        assert [c for c in contract[table] if c not in columns] == [], f"{table}: contract entries without a column"


def test_a_contract_entry_for_a_missing_column_is_caught():
    """The comparison above is not vacuous: a column the model lacks shows up as a difference."""
    con = duckdb.connect()
    try:
        build(con)
        con.execute("alter table marts.budget_status drop column status")
        columns = [column for column, _ in public_columns(con)["marts.budget_status"]]
    finally:
        con.close()
    assert [c.name for c in table_contract("marts.budget_status").columns if c.name not in columns] == ["status"]


def test_every_public_table_and_column_carries_its_comment_in_the_published_snapshot(warehouse, tmp_path):
    published = tmp_path / "published" / "billrecon.duckdb"
    assert publish(warehouse, published)
    con = duckdb.connect(str(published), read_only=True)
    try:
        columns = public_columns(con)
        table_comments = dict(con.execute(
            """select schema_name || '.' || table_name, comment from duckdb_tables()
               union all select schema_name || '.' || view_name, comment from duckdb_views() where not internal"""
        ).fetchall())
    finally:
        con.close()
    for table in TABLES:
        assert table_comments[table.name] == table.comment()
        assert columns[table.name] == [(column.name, column.note()) for column in table.columns]
    assert column_note("marts.budget_status", "utilisation_ratio") == "budget_used_amount ÷ budget_amount [ratio, 1 = 100 %]"


def test_a_rebuilt_model_gets_its_comments_back_and_an_unchanged_warehouse_costs_no_statement():
    con = duckdb.connect()
    try:
        build(con)
        assert apply_comments(con) == 0
        run_model(con, "marts", "budget_status", CYCLE)  # create or replace: DuckDB drops the comments
        comments = dict(public_columns(con)["marts.budget_status"])
        assert comments["threshold_crossed_ratio"] == column_note("marts.budget_status", "threshold_crossed_ratio")
        assert apply_comments(con) == 0
    finally:
        con.close()


def test_fractions_are_ratios_named_so():
    """utilisation was a fraction and threshold_crossed a percent: both are ratios now, and every
    *_ratio column says so."""
    budget = {column.name: column for column in table_contract("marts.budget_status").columns}
    assert budget["utilisation_ratio"].unit == budget["threshold_crossed_ratio"].unit == RATIO
    assert budget["forecast_utilisation_ratio"].unit == RATIO
    for table in TABLES:
        for column in table.columns:
            assert "percent" not in (column.unit or "")
            if column.name.endswith("_ratio"):
                assert column.unit == RATIO, (table.name, column.name)


def test_the_readme_section_is_the_one_the_contract_generates():
    text = README.read_text(encoding="utf-8")
    assert readme_with_section(text) == text, "README.md is out of date: run `make readme`"
    assert "| `utilisation_ratio` | ratio, 1 = 100 % |" in text
