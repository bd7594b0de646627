"""Reading rows from the warehouse for the reports.

- ``stream_rows`` / ``stream_batches`` over a ``TableExport`` (``reports.exports``): every row of one
  table for the cycle, fetched in batches in the export's complete, deterministic order, for the CSV
  exports, the per-customer bills and the long XLSX sheets; a large month is never held in memory whole.
- ``customer_ranges``: the month's billed customers cut into ranges that DuckDB sorts in memory
  (``reports.pack_lines`` reads a month's bill lines one sorted range per query).
- ``fetch_records``: a small query's rows as dicts, for the aggregated reads.

Every query takes the bill cycle as a bound parameter; table names are constants, never data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import polars as pl

from reports.exports import EXPENDITURE_TABLE, TableExport
from schemas import memory


def quote_identifier(name: str) -> str:
    """SQL identifier quoting for column names read from the catalog (never for data values)."""
    return '"' + name.replace('"', '""') + '"'


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of ``table`` (or of a parenthesised subquery) in order."""
    description = con.execute(f"SELECT * FROM {table} LIMIT 0").description
    return [column[0] for column in description]


def export_order(columns: Sequence[str], export: TableExport) -> list[str]:
    """The columns an export's rows are sorted by, each ascending with nulls first: its leading
    columns, then (unless those identify a row) every other column as a tie-breaker."""
    ordering = list(export.leading_order)
    if not export.leading_order_is_unique:
        ordering += [c for c in columns if c not in export.leading_order]
    return ordering


def ordered_query(con: duckdb.DuckDBPyConnection, export: TableExport,
                  extra_conditions: Sequence[str] = ()) -> tuple[list[str], str]:
    """``SELECT *`` of the export (and any ``extra_conditions``) with its complete, deterministic ORDER BY."""
    columns = table_columns(con, export.relation)
    ordering = export_order(columns, export)
    order_by = ", ".join(f"{quote_identifier(c)} ASC NULLS FIRST" for c in ordering)
    where = " AND ".join([f"({export.where})", *extra_conditions])
    return columns, f"SELECT * FROM {export.relation} WHERE {where} ORDER BY {order_by}"


def stream_batches(
    con: duckdb.DuckDBPyConnection,
    export: TableExport,
    bill_cycle: str,
    batch_rows: int = 250_000,
) -> Iterator[pl.DataFrame]:
    """Every row of ``export`` for the cycle as polars frames of at most ``batch_rows`` rows, in order.

    Arrow record batches straight from DuckDB: no Python object per value, and a large month is
    never held in memory whole.
    """
    _, query = ordered_query(con, export)
    reader = con.sql(query, params=export.parameters(bill_cycle)).to_arrow_reader(batch_rows)
    for batch in reader:
        yield pl.from_arrow(batch)


def customer_ranges(con: duckdb.DuckDBPyConnection, bill_cycle: str,
                    lines_per_range: int | None = None) -> tuple[list[str], list[str | None]]:
    """The cycle's billed customers in order, and the first customer of each range of about
    `lines_per_range` bill lines (sized by the expenditure mart's line counts). By default a range
    holds what the connection's DuckDB memory limit sorts without spilling (schemas/memory.py): one
    sort of ten million wide rows would spill gigabytes."""
    rows = con.execute(
        f"""SELECT customer_id, sum(expenditure_line_count + refund_line_count)::BIGINT AS lines
            FROM {EXPENDITURE_TABLE} WHERE bill_cycle = ?
            GROUP BY customer_id HAVING sum(expenditure_line_count + refund_line_count) > 0
            ORDER BY customer_id""", [bill_cycle]).fetchall()
    lines_per_range = lines_per_range or memory.lines_per_range(duckdb_memory_limit_bytes(con))
    starts: list[str | None] = [None]
    in_range = 0
    for customer_id, lines in rows:
        if in_range and in_range + lines > lines_per_range:
            starts.append(customer_id)
            in_range = 0
        in_range += lines
    return [customer_id for customer_id, _ in rows], starts


def duckdb_memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The connection's DuckDB `memory_limit` in bytes."""
    (limit,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    return memory.parse_bytes(limit)


def stream_rows(
    con: duckdb.DuckDBPyConnection,
    export: TableExport,
    bill_cycle: str,
    batch_size: int = 10_000,
) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """Column names and an iterator over every row of ``export`` for ``bill_cycle``.

    All columns are exported (``SELECT *``): the marts may gain columns (the warehouse
    contract allows it) and the exports follow without a code change. The iterator fetches in batches so a large
    month is never held in memory at once. It uses ``con`` itself (not a cursor, which would not
    see the caller's uncommitted transaction), so consume it fully before the next query.
    """
    columns, query = ordered_query(con, export)
    result = con.execute(query, export.parameters(bill_cycle))

    def batches() -> Iterator[tuple[Any, ...]]:
        while batch := result.fetchmany(batch_size):
            yield from batch

    return columns, batches()


def fetch_records(
    con: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[object]
) -> list[dict[str, Any]]:
    """Run ``sql`` with bound ``parameters`` and return the rows as dicts keyed by column name."""
    result = con.execute(sql, list(parameters))
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
