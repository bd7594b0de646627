"""What the reconciliation assets ask of the findings the reconciliation models (sql/core,
sql/marts; docs/reconciliation.md) write. The models take severities and texts from audit.rules
(pipelines/lib/audit.py writes it from schemas/rules.py)."""

from __future__ import annotations

import duckdb

from schemas.rules import CHECK_AREAS


def findings_by_area(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Number of findings in marts.reconciliation_findings per check area (every area listed)."""
    counts = dict(con.execute(
        "select check_area, count(*) from marts.reconciliation_findings group by check_area").fetchall())
    return {area: counts.get(area, 0) for area in CHECK_AREAS}


def findings_by_rule(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute(
        "select rule_id, count(*) from marts.reconciliation_findings group by rule_id order by rule_id").fetchall())
