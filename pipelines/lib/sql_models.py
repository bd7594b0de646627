"""The SQL models under sql/core and sql/marts: one model per file, file stem = table name.

A model's first line says how it is materialized:
- `-- materialized: partition`: rows of one bill cycle, replaced with delete-then-insert (the model
  filters on the `$bill_cycle` parameter);
- `-- materialized: table`: rebuilt whole;
- `-- materialized: view`.

The tables a model reads are parsed from its SQL (sqlglot, DuckDB dialect): every schema-qualified
table it selects from. That is the model's lineage; nothing else lists it. A model reads its own
layer and the layers below it (landing, audit, staging < core < marts), never a layer above.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from pipelines.lib.audit import RULES_TABLE, write_rule_catalogue
from pipelines.lib.warehouse import SQL_DIR, apply_comments, widen_decimal_columns

_HEADER = re.compile(r"^--\s*materialized:\s*(partition|table|view)\s*$")

# model layers, each may read the ones before it and the schemas Python writes
MODEL_LAYERS = ("core", "marts")
SOURCE_SCHEMAS = ("landing", "audit", "staging")

# tables models read that Python writes from the code, not from data: written in the transaction
# of any model that reads them (the rules catalogue: every run that reconciles rewrites it)
CODE_TABLES: dict[str, Callable[[duckdb.DuckDBPyConnection], object]] = {RULES_TABLE: write_rule_catalogue}


class ModelError(ValueError):
    """A model file that cannot be part of the graph (bad header, unreadable SQL, upward read, cycle)."""


@dataclass(frozen=True)
class Model:
    layer: str
    name: str
    materialized: str
    sql: str
    reads: frozenset[str]
    """The tables (`schema.table`) the SQL reads, parsed from it."""

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def comment(self) -> str:
        """The model's leading comment block after the header: what it holds, its grain and sources."""
        lines = []
        for line in self.sql.splitlines()[1:]:
            if not line.startswith("--"):
                break
            lines.append(line[2:].strip())
        return "\n".join(lines)


def load_model(layer: str, name: str, sql_dir: Path = SQL_DIR) -> Model:
    path = sql_dir / layer / f"{name}.sql"
    text = path.read_text(encoding="utf-8")
    match = _HEADER.match(text.splitlines()[0]) if text.strip() else None
    if not match:
        raise ModelError(f"{_shown(path)}: the first line must be '-- materialized: partition|table|view'")
    model = Model(layer, name, match.group(1), text, tables_read(text, _shown(path)))
    _check_layer(model, _shown(path))
    return model


def tables_read(sql: str, where: str = "the SQL") -> frozenset[str]:
    """Every `schema.table` the statement selects from (CTE names excluded)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as error:
        raise ModelError(f"{where} cannot be parsed: {str(error).splitlines()[0]}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ModelError(f"{where} must be one select statement")
    statement = statements[0]
    ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    tables = set()
    for table in statement.find_all(exp.Table):
        if table.db:
            tables.add(f"{table.db}.{table.name}".lower())
        elif table.name and table.name not in ctes:
            raise ModelError(f"{where} reads {table.name} without its schema: name it as schema.table")
    return frozenset(tables)


def _check_layer(model: Model, where: str) -> None:
    allowed = (*SOURCE_SCHEMAS, *MODEL_LAYERS[:MODEL_LAYERS.index(model.layer) + 1])
    upward = sorted(t for t in model.reads if t.split(".")[0] not in allowed)
    if upward:
        raise ModelError(f"{where} reads {', '.join(upward)}: a {model.layer} model reads "
                         f"{', '.join(allowed)} only (the layers below it and its own)")


def read_models(sql_dir: Path = SQL_DIR) -> list[Model]:
    """Every model of the model layers under `sql_dir`, readers after what they read."""
    models = {m.table: m for layer in MODEL_LAYERS
              for m in (load_model(layer, path.stem, sql_dir) for path in sorted((sql_dir / layer).glob("*.sql")))}
    graph = {table: sorted(t for t in m.reads if t in models and t != table) for table, m in models.items()}
    sorter = graphlib.TopologicalSorter(graph)
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as cycle:
        raise ModelError(f"the models read each other in a circle: {' → '.join(cycle.args[1])}") from None
    return [models[table] for table in order]


def materialize(con: duckdb.DuckDBPyConnection, model: Model, bill_cycle: str | None = None) -> int:
    """Build one model inside the caller's transaction; returns the rows it now holds (0 for a view).
    A public model gets the comments of its contract (replacing a table drops them)."""
    _write_code_tables(con, model.reads)
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
    created = _ensure_partitioned_table(con, model, params)
    source = BUILT_FOR_EVERY_CYCLE_WHEN_NEW.get(model.table) if created else None
    cycles = sorted({bill_cycle, *(cycles_in(con, source) if source else ())})
    for cycle in cycles:
        con.execute(f"delete from {model.table} where bill_cycle = $bill_cycle", {"bill_cycle": cycle})
        con.execute(f"insert into {model.table} by name select * from ({model.sql})", {"bill_cycle": cycle})
    return con.execute(f"select count(*) from {model.table} where bill_cycle = $bill_cycle", params).fetchone()[0]


# Partitioned models that a view reads for every cycle, with the table whose cycles they cover: a
# warehouse whose months were closed before the model existed gets it built for those months too, the
# first time it is built, or the view would read nothing for them (core.rated_bill_line would rate the
# earlier months' lines at no agreement).
BUILT_FOR_EVERY_CYCLE_WHEN_NEW = {"core.line_agreement": "staging.bill_line"}


def cycles_in(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The bill cycles `table` holds rows of, in order."""
    return [cycle for (cycle,) in con.execute(f"select distinct bill_cycle from {table} order by 1").fetchall()]


def run_model(con: duckdb.DuckDBPyConnection, layer: str, name: str, bill_cycle: str | None = None) -> int:
    """Materialize the model sql/<layer>/<name>.sql inside the caller's transaction."""
    return materialize(con, load_model(layer, name), bill_cycle)


def run_models(con: duckdb.DuckDBPyConnection, bill_cycle: str, models: Iterable[Model] | None = None) -> None:
    """Materialize every model (or `models`) for one cycle in dependency order, as a run does."""
    for model in read_models() if models is None else models:
        materialize(con, model, bill_cycle)


def clear(con: duckdb.DuckDBPyConnection, model: Model, bill_cycle: str | None = None) -> None:
    """Leave a model's table without the rows a run would have built: the cycle's rows of a
    partitioned model, every row of a table model (created empty, with the model's columns, when
    missing). For a part whose source is switched off (the BSS API not configured)."""
    if model.materialized == "view":
        raise ValueError(f"{model.table} is a view: there are no rows to clear")
    _write_code_tables(con, model.reads)
    _drop_other_kind(con, model)
    if model.materialized == "table":
        con.execute(f"create or replace table {model.table} as select * from ({model.sql}) where false")
    else:
        if bill_cycle is None:
            raise ValueError(f"{model.table} is partitioned by bill cycle: pass bill_cycle")
        params = {"bill_cycle": bill_cycle}
        _ensure_partitioned_table(con, model, params)
        con.execute(f"delete from {model.table} where bill_cycle = $bill_cycle", params)
    apply_comments(con, [model.table])


def _write_code_tables(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    for table in sorted(set(tables) & CODE_TABLES.keys()):
        CODE_TABLES[table](con)


def _shown(path: Path) -> str:
    """The model's path as the repository names it (sql/<layer>/<name>.sql)."""
    return "/".join(path.parts[-3:])


def _ensure_partitioned_table(con: duckdb.DuckDBPyConnection, model: Model, params: dict) -> bool:
    """Create the model's table when missing; True when it was. A table built by an earlier version
    keeps the other cycles' rows, so a money column the model now sums in a wider DECIMAL (same scale) is widened
    in place, losslessly: inserting into the narrower column would overflow on the amounts the
    wider type is there for."""
    layer, name = model.table.split(".")
    exists = con.execute(
        """select count(*) from duckdb_tables()
           where database_name = current_database() and schema_name = ? and table_name = ?""",
        [layer, name]).fetchone()[0]
    con.execute(f"create table if not exists {model.table} as select * from ({model.sql}) where false", params)
    wanted = {r[0]: r[1] for r in con.execute(f"describe select * from ({model.sql})", params).fetchall()}
    widen_decimal_columns(con, model.table, wanted)
    return not exists


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
