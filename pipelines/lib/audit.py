"""The one writer of the audit tables (audit.loads, audit.quarantine, audit.findings,
audit.held_deliveries, audit.ignored_objects, audit.model_builds, audit.restatement_line, audit.rules).

Every insert names its columns, from `AUDIT_COLUMNS` (the columns of each table's DDL in sql/audit,
in DDL order; a unit test holds the two equal), so a column added to a table cannot shift the
values of a positional insert, and a name the table does not have fails before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import polars as pl

from schemas.rules import RULES

AUDIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "audit.loads": (
        "load_id", "source", "object_key", "etag", "sha256", "member", "bill_cycle", "rows_read", "rows_loaded",
        "rows_quarantined", "findings_count", "status", "first_error", "loaded_at"),
    "audit.quarantine": (
        "load_id", "source", "object_key", "member", "bill_cycle", "line_number", "record_number", "rule_id",
        "reason", "raw_record"),
    "audit.findings": (
        "load_id", "source", "object_key", "member", "bill_cycle", "line_number", "record_number", "rule_id",
        "severity", "customer_id", "reference", "expected", "actual", "difference_amount", "message"),
    "audit.held_deliveries": (
        "source", "object_key", "etag", "sha256", "bill_cycle", "replaces_etag", "replaces_landed_at", "rule_id",
        "reason", "message", "rows_read", "rows_loaded", "rows_quarantined", "members_rejected", "first_error",
        "measured", "held_at", "released_at", "released_by"),
    "audit.ignored_objects": ("source", "object_key", "etag", "size_bytes", "bill_cycle", "reason"),
    "audit.model_builds": ("model", "bill_cycle", "fingerprint", "metadata", "built_at"),
    "audit.restatement_line": (
        "bill_cycle", "object_key", "previous_etag", "new_etag", "restated_at", "customer_id", "bill_type",
        "trade_id", "resource_id", "usage_type", "trade_time", "change", "previous_amount_due", "new_amount_due",
        "amount_due_delta"),
    "audit.rules": ("rule_id", "area", "severity", "title", "action"),
}

# the rules catalogue (schemas/rules.py) in the warehouse, which every rule id of the other tables joins to
RULES_TABLE = "audit.rules"

# the tables one staged delivery or snapshot writes: replaced together when it is staged again
LOAD_TABLES = ("audit.loads", "audit.quarantine", "audit.findings")


def column_list(table: str, columns: Iterable[str]) -> str:
    """`columns` as the column list of an insert into `table`, each checked against the table."""
    columns = list(columns)
    unknown = [c for c in columns if c not in AUDIT_COLUMNS[table]]
    if unknown:
        raise ValueError(f"{table} has no column {', '.join(unknown)}")
    return ", ".join(columns)


def insert_row(con: duckdb.DuckDBPyConnection, table: str, row: Mapping[str, Any]) -> None:
    """One row, by column name; a column left out is null."""
    insert_rows(con, table, [row])


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows sharing one set of column names, in order."""
    if not rows:
        return
    columns = list(rows[0])
    statement = (f"insert into {table} ({column_list(table, columns)}) "
                 f"values ({', '.join('?' for _ in columns)})")
    for row in rows:
        con.execute(statement, [row[c] for c in columns])


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """The rows of a polars frame whose columns are named as the table's (a subset, any order)."""
    if not frame.height:
        return
    columns = column_list(table, frame.columns)
    con.register("incoming_audit", frame.to_arrow())
    try:
        con.execute(f"insert into {table} ({columns}) select {columns} from incoming_audit")
    finally:
        con.unregister("incoming_audit")


def insert_select(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], query: str,
                  parameters: Sequence[Any] | Mapping[str, Any] = ()) -> None:
    """The rows a query returns, its select list in the order of `columns`."""
    con.execute(f"insert into {table} ({column_list(table, columns)}) {query}", parameters)


def forget_loads(con: duckdb.DuckDBPyConnection, where: str, parameters: Sequence[Any] = ()) -> None:
    """Delete the load, quarantine and finding rows matching `where` (a delivery staged again)."""
    for table in LOAD_TABLES:
        con.execute(f"delete from {table} where {where}", parameters)


def write_rule_catalogue(con: duckdb.DuckDBPyConnection) -> int:
    """Replace audit.rules with this release's catalogue (schemas/rules.py), in the caller's
    transaction: the reconciliation models take their severities and texts from it, and analysts
    join any rule id to what it means and what to do; returns the number of rules."""
    con.execute(f"delete from {RULES_TABLE}")
    columns = AUDIT_COLUMNS[RULES_TABLE]
    insert_frame(con, RULES_TABLE, pl.DataFrame(
        [tuple(getattr(rule, column) for column in columns) for rule in RULES.values()],
        schema={column: pl.Utf8 for column in columns}, orient="row"))
    return len(RULES)
