"""What the reconciliation models (sql/core, sql/marts; docs/reconciliation.md) share: the rule
dimension they take severities and texts from.

Rule ids, severities, titles and actions are kept once, in schemas/rules.py; `write_rule_table`
writes them to core.reconciliation_rule so that the SQL joins them instead of repeating them (the
SQL runner writes it before any model that reads it).
"""

from __future__ import annotations

import duckdb

from schemas.rules import CHECK_AREAS, reconciliation_rules

RULE_TABLE = "core.reconciliation_rule"


def write_rule_table(con: duckdb.DuckDBPyConnection) -> None:
    """core.reconciliation_rule: one row per reconciliation rule, from schemas/rules.py."""
    con.execute(f"""create or replace table {RULE_TABLE} (
                       rule_id varchar primary key, check_area varchar not null, severity varchar not null,
                       title varchar not null, action varchar not null)""")
    rows = [(r.rule_id, r.area, r.severity, r.title, r.action) for r in reconciliation_rules()]
    con.executemany(f"insert into {RULE_TABLE} values (?, ?, ?, ?, ?)", rows)


def findings_by_area(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Number of findings in marts.reconciliation_findings per check area (every area listed)."""
    counts = dict(con.execute(
        "select check_area, count(*) from marts.reconciliation_findings group by check_area").fetchall())
    return {area: counts.get(area, 0) for area in CHECK_AREAS}


def findings_by_rule(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute(
        "select rule_id, count(*) from marts.reconciliation_findings group by rule_id order by rule_id").fetchall())
