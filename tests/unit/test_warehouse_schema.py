"""A warehouse built by another version of billrecon is refused up front, with what differs."""

from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from pipelines.lib.warehouse import WarehouseOutdated, ensure_schema, schema_drift
from pipelines.resources import WarehouseResource


def _warehouse(tmp_path):
    path = tmp_path / "billrecon.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con)
    return path, con


def test_a_current_warehouse_has_no_drift_and_opens_again(tmp_path):
    path, con = _warehouse(tmp_path)
    assert schema_drift(con) == []
    con.close()
    with WarehouseResource(path=str(path)).connect() as again:
        assert again.execute("select count(*) from audit.loads").fetchone() == (0,)


def test_a_table_missing_a_column_is_named_and_its_rows_kept(tmp_path):
    path, con = _warehouse(tmp_path)
    con.execute("alter table audit.model_builds drop column metadata")
    con.execute("insert into audit.model_builds values ('m', '2026-09', 'f', now())")
    con.close()
    with pytest.raises(dg.Failure) as refused:  # the run stops with the one line, the cause attached
        with WarehouseResource(path=str(path)).connect() as refused_connection:  # refused on opening:
            refused_connection.execute("delete from audit.model_builds")        # never runs
    assert isinstance(refused.value.__cause__, WarehouseOutdated)
    message = refused.value.description
    assert f"the warehouse {path} was built by another version of billrecon" in message
    assert "audit.model_builds lacks column(s) metadata" in message
    assert "move the file aside and run each month again" in message
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("select model, bill_cycle from audit.model_builds").fetchall() == [("m", "2026-09")]


def test_a_column_of_another_type_is_named_with_both_types(tmp_path):
    _, con = _warehouse(tmp_path)
    con.execute("alter table audit.model_builds alter column fingerprint type integer")
    assert schema_drift(con) == ["audit.model_builds: fingerprint is INTEGER, expected VARCHAR"]


def test_an_extra_column_is_allowed(tmp_path):
    _, con = _warehouse(tmp_path)
    con.execute("alter table audit.model_builds add column note varchar")
    assert schema_drift(con) == []
    ensure_schema(con)


def test_money_columns_of_an_older_version_are_widened_in_place_with_their_rows(tmp_path):
    """audit.findings' amounts were DECIMAL(20, 8), too narrow for sums of line amounts; widening a
    decimal loses nothing, so an older warehouse is widened on opening rather than refused."""
    path, con = _warehouse(tmp_path)
    for column in ("expected", "actual", "difference_amount"):
        con.execute(f"alter table audit.findings alter column {column} type decimal(20, 8)")
    con.execute("""insert into audit.findings (load_id, source, object_key, rule_id, severity, expected, message)
                   values ('l', 'customerBill', 'k', 'BILL.AMOUNT_DUE_IDENTITY', 'error', 999999999999.99999999, 'm')""")
    con.close()
    with WarehouseResource(path=str(path)).connect() as widened:
        assert widened.execute("select expected from audit.findings").fetchall() == [
            (Decimal("999999999999.99999999"),)]
        widened.execute("update audit.findings set expected = 2 * expected")  # fits now
        assert schema_drift(widened) == []



def test_a_process_killed_after_the_schema_and_comments_leaves_a_warehouse_that_opens(tmp_path):
    """DuckDB 1.5 cannot replay a column comment on a table with a CHECK constraint from its log:
    the working file never gets such comments, so a killed first run leaves a file that opens."""
    import subprocess
    import sys

    path = tmp_path / "billrecon.duckdb"
    subprocess.run([sys.executable, "-c", "import duckdb, os, sys\n"
                    "from pipelines.lib.warehouse import ensure_schema\n"
                    "con = duckdb.connect(sys.argv[1]); ensure_schema(con); os._exit(0)", str(path)], check=True)
    assert path.with_name(path.name + ".wal").exists()  # killed before any checkpoint
    con = duckdb.connect(str(path))
    try:
        commented = con.execute("select count(*) from duckdb_columns() where schema_name = 'marts' "
                                "or (table_name = 'quarantine' and comment is not null)").fetchone()[0]
        checked = con.execute("select count(*) from duckdb_columns() where table_name = 'loads' "
                              "and comment is not null").fetchone()[0]
    finally:
        con.close()
    assert commented > 0 and checked == 0


def test_a_run_checks_the_schema_once_at_setup_not_at_every_step(tmp_path, monkeypatch):
    """The ~80 steps of a month close each open the warehouse; the run's setup, which holds the
    lease, checks the schema for all of them. A connection outside a run still checks it."""
    import pipelines.resources

    checks = []

    def counted(con):
        checks.append(1)
        ensure_schema(con)

    monkeypatch.setattr(pipelines.resources, "ensure_schema", counted)
    path = tmp_path / "billrecon.duckdb"

    def step(name: str, deps: list) -> dg.AssetsDefinition:
        @dg.asset(name=name, deps=deps)
        def opens(warehouse: WarehouseResource) -> None:
            with warehouse.connect() as con:
                con.execute("insert into audit.model_builds values (?, '2026-09', 'f', '{}', now())", [name])
        return opens

    steps = [step("first", []), step("second", ["first"]), step("third", ["second"])]
    assert dg.materialize(steps, resources={"warehouse": WarehouseResource(path=str(path))}).success
    assert len(checks) == 1
    with WarehouseResource(path=str(path)).connect() as con:
        assert con.execute("select model from audit.model_builds order by model").fetchall() == [
            ("first",), ("second",), ("third",)]
    assert len(checks) == 2
