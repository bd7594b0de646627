"""Runs the SQL models under sql/core and sql/marts (one model per file, file stem = table name).

A model's first line says how it is materialized:
- `-- materialized: partition`: rows of one bill cycle, replaced with delete-then-insert (the model
  filters on the `$bill_cycle` parameter);
- `-- materialized: table`: rebuilt whole;
- `-- materialized: view`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.lib.warehouse import SQL_DIR, apply_comments

_HEADER = re.compile(r"^--\s*materialized:\s*(partition|table|view)\s*$")


@dataclass(frozen=True)
class Model:
    layer: str
    name: str
    materialized: str
    sql: str

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"


def load_model(layer: str, name: str) -> Model:
    path = SQL_DIR / layer / f"{name}.sql"
    text = path.read_text(encoding="utf-8")
    match = _HEADER.match(text.splitlines()[0])
    if not match:
        raise ValueError(f"{path}: the first line must be '-- materialized: partition|table|view'")
    return Model(layer, name, match.group(1), text)


def run_model(con: duckdb.DuckDBPyConnection, layer: str, name: str, bill_cycle: str | None = None) -> int:
    """Materialize one model inside the caller's transaction; returns the rows it now holds. A public
    model gets the comments of its contract (replacing a table drops them)."""
    model = load_model(layer, name)
    _drop_other_kind(con, model)
    rows = _materialize(con, model, bill_cycle)
    apply_comments(con, [model.table])
    return rows


def _materialize(con: duckdb.DuckDBPyConnection, model: Model, bill_cycle: str | None) -> int:
    if model.materialized == "view":
        con.execute(f"create or replace view {model.table} as {model.sql}")
        return 0
    if model.materialized == "table":
        con.execute(f"create or replace table {model.table} as {model.sql}")
        return con.execute(f"select count(*) from {model.table}").fetchone()[0]
    if bill_cycle is None:
        raise ValueError(f"{model.table} is partitioned by bill cycle: pass bill_cycle")
    params = {"bill_cycle": bill_cycle}
    con.execute(f"create table if not exists {model.table} as select * from ({model.sql}) where false", params)
    con.execute(f"delete from {model.table} where bill_cycle = $bill_cycle", params)
    con.execute(f"insert into {model.table} by name select * from ({model.sql})", params)
    return con.execute(f"select count(*) from {model.table} where bill_cycle = $bill_cycle", params).fetchone()[0]


def clear_model(con: duckdb.DuckDBPyConnection, layer: str, name: str, bill_cycle: str | None = None) -> None:
    """Leave a model's table without the rows a run would have built: the cycle's rows of a
    partitioned model, every row of a table model (created empty, with the model's columns, when
    missing). For a part whose source is switched off (the BSS API not configured)."""
    model = load_model(layer, name)
    if model.materialized == "view":
        raise ValueError(f"{model.table} is a view: there are no rows to clear")
    _drop_other_kind(con, model)
    if model.materialized == "table":
        con.execute(f"create or replace table {model.table} as select * from ({model.sql}) where false")
    else:
        if bill_cycle is None:
            raise ValueError(f"{model.table} is partitioned by bill cycle: pass bill_cycle")
        params = {"bill_cycle": bill_cycle}
        con.execute(f"create table if not exists {model.table} as select * from ({model.sql}) where false", params)
        con.execute(f"delete from {model.table} where bill_cycle = $bill_cycle", params)
    apply_comments(con, [model.table])


def _drop_other_kind(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    """A model that changed between table and view replaces the old object of the other kind."""
    row = con.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [model.layer, model.name],
    ).fetchone()
    if row is None:
        return
    is_view = row[0] == "VIEW"
    if is_view and model.materialized != "view":
        con.execute(f"drop view {model.table}")
    elif not is_view and model.materialized == "view":
        con.execute(f"drop table {model.table}")
