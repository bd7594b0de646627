"""Loaded rows into their staging table, each stamped with its lineage: the member and record it
was read from, and the delivery's object, content hash and load."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.landing import Delivery
from pipelines.lib.parsing import ParsedMember
from pipelines.lib.staging.datasets import Dataset


def rows_for_table(dataset: Dataset, loaded: pl.DataFrame, member: str) -> pl.DataFrame:
    """The loaded rows with the target table's columns and the member's lineage (record, member)."""
    columns = [*dataset.spec.column_names, "extra"]
    if dataset.spec.local_time_column:
        columns.append("trade_date_local")
    return loaded.select(
        *columns,
        pl.col("record_number").alias("src_record"),
        pl.lit(member, pl.Utf8).alias("src_member"),
        *[pl.lit(v).alias(k) for k, v in dataset.extra_columns.items()],
    )


def insert_rows(con: duckdb.DuckDBPyConnection, dataset: Dataset, parsed: ParsedMember, delivery: Delivery,
                member: str, load_id: str) -> None:
    """Insert a member's loaded rows held in memory (a plain CSV object's)."""
    if not parsed.loaded.height:
        return
    frame = rows_for_table(dataset, parsed.loaded, member)
    con.register("incoming_rows", frame.to_arrow())
    try:
        _insert_with_lineage(con, dataset, frame.columns, "incoming_rows", delivery, load_id)
    finally:
        con.unregister("incoming_rows")


def insert_spooled(con: duckdb.DuckDBPyConnection, dataset: Dataset, files: list[Path], delivery: Delivery,
                   load_id: str) -> None:
    """Insert every spooled member with one statement. Row order in a table carries no meaning
    (every reader orders explicitly), so DuckDB may append row groups in parallel."""
    if not files:
        return
    paths = [str(f) for f in files]
    spooled_columns = [r[0] for r in con.execute("describe select * from read_parquet($files)",
                                                 {"files": paths[:1]}).fetchall()]
    (preserve,), = con.execute("select current_setting('preserve_insertion_order')").fetchall()
    con.execute("set preserve_insertion_order = false")
    try:
        _insert_with_lineage(con, dataset, spooled_columns, "read_parquet($files)", delivery, load_id,
                             {"files": paths})
    finally:
        con.execute(f"set preserve_insertion_order = {'true' if preserve else 'false'}")


def _insert_with_lineage(con: duckdb.DuckDBPyConnection, dataset: Dataset, columns: list[str], source: str,
                         delivery: Delivery, load_id: str, parameters: dict | None = None) -> None:
    """Insert the `columns` of the relation `source` that the target table has, each row stamped
    with the delivery's lineage (object, content hash, load)."""
    target_columns = {r[0] for r in con.execute(f"describe {dataset.table}").fetchall()}
    kept = ", ".join(c for c in columns if c in target_columns)
    lineage = {"src_object": delivery.object_key, "src_sha256": delivery.sha256, "load_id": load_id}
    assignments = ", ".join(f"${k} as {k}" for k in lineage)
    con.execute(f"insert into {dataset.table} by name select {kept}, {assignments} from {source}",
                {**lineage, **(parameters or {})})
