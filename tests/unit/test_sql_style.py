"""The shape every model of sql/core and sql/marts keeps (docs/architecture.md): import CTEs first, then
the transformations, ending with `select * from final`. sqlfluff (`make lint`) checks the rest of the style."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted([*(ROOT / "sql" / "core").glob("*.sql"), *(ROOT / "sql" / "marts").glob("*.sql")])


def is_import_cte(cte: exp.CTE) -> bool:
    """`name as (select … from layer.table [where …])`: reads one schema-qualified table, nothing else;
    it may pick the columns it needs, but joins, aggregates and subqueries belong to later CTEs."""
    body = cte.this
    if not isinstance(body, exp.Select):
        return False
    tables = list(body.find_all(exp.Table))
    return (len(tables) == 1 and bool(tables[0].db) and not body.args.get("joins")
            and not body.args.get("group") and not body.find(exp.Subquery) and not body.find(exp.AggFunc))


def reads_a_table(cte: exp.CTE) -> bool:
    return any(table.db for table in cte.this.find_all(exp.Table))


def style_problems(sql: str) -> list[str]:
    """What keeps a model's SQL from the house shape; empty when it keeps it."""
    tree = sqlglot.parse_one(sql.replace("$bill_cycle", "'2026-10'"), read="duckdb")
    problems = []
    ctes = tree.ctes
    if not ctes:
        return ["no CTEs: name the inputs in import CTEs"]
    if not is_import_cte(ctes[0]):
        problems.append(f"the first CTE ({ctes[0].alias}) is not an import CTE (it reads one table as it is)")
    imports_done = False
    for cte in ctes:
        if reads_a_table(cte) and not is_import_cte(cte):
            problems.append(f"{cte.alias} reads a table of the warehouse and transforms it: import the table first")
        if not is_import_cte(cte):
            imports_done = True
        elif imports_done:
            problems.append(f"import CTE {cte.alias} comes after a transformation")
    if ctes[-1].alias != "final":
        problems.append(f"the last CTE is {ctes[-1].alias}, not final")
    closing = tree.copy()
    closing.set("with_", None)
    if closing.sql(dialect="duckdb").lower() != "select * from final":
        problems.append("the model does not end with `select * from final`")
    return problems


@pytest.mark.parametrize("path", MODELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_model_has_import_ctes_first_and_ends_with_select_from_final(path):
    assert style_problems(path.read_text(encoding="utf-8")) == []


def test_the_check_finds_each_departure_from_the_shape():
    good = ("with lines as (select * from staging.bill_line where bill_cycle = $bill_cycle),\n"
            "final as (select customer_id, sum(amount_due) as amount_due from lines group by 1)\n"
            "select * from final")
    assert style_problems(good) == []
    assert style_problems("select customer_id from staging.bill_line") == [
        "no CTEs: name the inputs in import CTEs"]
    assert style_problems("with final as (select count(*) as n from staging.bill_line) select * from final") == [
        "the first CTE (final) is not an import CTE (it reads one table as it is)",
        "final reads a table of the warehouse and transforms it: import the table first"]
    assert style_problems(good.replace("select * from final", "select customer_id from final")) == [
        "the model does not end with `select * from final`"]
    assert style_problems(good.replace("final", "totals")) == [
        "the last CTE is totals, not final", "the model does not end with `select * from final`"]
    late_import = ("with lines as (select * from staging.bill_line),\n"
                   "totals as (select count(*) as n from lines),\n"
                   "customers as (select * from core.current_customer),\n"
                   "final as (select * from totals cross join customers) select * from final")
    assert style_problems(late_import) == ["import CTE customers comes after a transformation"]
