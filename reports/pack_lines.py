"""The month's bill lines, rated once for a month-close pack.

``marts.customer_bill_line`` is a view over ``core.rated_bill_line``, itself a view: every query on
it rates the month's lines again (the agreed discounts looked up, the refunds priced). A pack reads
the lines several times: the bills and the all-lines files one sorted customer range at a time (a
range holds what DuckDB's memory limit sorts, ``reports.data.customer_ranges``; 38 ranges at ten
million lines and the default budget), the PDF statements' sums, the refund list and the workbook's
line sheet. So ``rated_once`` rates them in one query that copies the cycle's lines to scratch
Parquet files, one folder per customer range, and every reader of the pack reads those files: a
range query reads its own folder only. The files are removed when the pack is done or fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from reports import data as marts
from reports.exports import CUSTOMER_BILL_LINE, TableExport

# Scratch, read back once: DuckDB's default Parquet compression (a ten-million-line month took 315 MB)
SCRATCH_COMPRESSION = "snappy"
RANGE_COLUMN = "range_number"


def _sql_text(value: str) -> str:
    """A path as an SQL string literal (COPY takes no bound parameter for it)."""
    return "'" + value.replace("'", "''") + "'"


def _parquet_files(files: list[str]) -> str:
    """A table expression reading exactly `files` (the folder names are not read as columns)."""
    return f"read_parquet([{', '.join(_sql_text(file) for file in files)}], hive_partitioning = false)"


@dataclass(frozen=True)
class PackLines:
    """The cycle's rated bill lines in scratch Parquet files, one folder per customer range."""

    con: duckdb.DuckDBPyConnection
    bill_cycle: str
    customer_ids: list[str]
    """The cycle's billed customers in order (the expenditure mart's)."""
    range_starts: list[str | None]
    """The first customer of each range; the first range also holds the lines without a customer."""
    folder: Path

    def _files(self, pattern: str) -> list[str]:
        return sorted(str(path) for path in self.folder.glob(pattern))

    @property
    def table(self) -> str:
        """A table expression of every line of the cycle, with the mart's columns, to read instead of
        ``marts.customer_bill_line``. A cycle without lines wrote no file: then the (empty) mart."""
        files = self._files(f"{RANGE_COLUMN}=*/*.parquet")
        return _parquet_files(files) if files else CUSTOMER_BILL_LINE.table

    @property
    def export(self) -> TableExport:
        """CUSTOMER_BILL_LINE read from the scratch files: the same rows, columns and order."""
        return dataclasses.replace(CUSTOMER_BILL_LINE, table=self.table)

    def batches(self, batch_rows: int = 250_000) -> Iterator[pl.DataFrame]:
        """Every line of the cycle in CUSTOMER_BILL_LINE's order, one customer range at a time: the
        ranges follow each other in customer order, so the order equals one big sorted query.

        polars sorts each range, not DuckDB: DuckDB's ORDER BY carries all of a line's columns through
        its sort (2.4 s a range of 256 K lines, about 100 s a ten-million-line month), polars sorts
        the keys and gathers the rows (0.1 s). The order is the same: ascending, nulls first, text
        compared byte by byte as DuckDB's default collation compares it. A range is read whole; its
        size follows the memory budget (``reports.data.customer_ranges``)."""
        order: list[str] | None = None
        for number in range(len(self.range_starts)):
            files = self._files(f"{RANGE_COLUMN}={number}/*.parquet")
            if not files:
                continue
            lines = pl.read_parquet(files, hive_partitioning=False)
            order = order or marts.export_order(lines.columns, CUSTOMER_BILL_LINE)
            yield from lines.sort(order, nulls_last=False).iter_slices(batch_rows)


def _range_number(starts: list[str | None]) -> tuple[str, list[str]]:
    """SQL for the customer range of a line's ``customer_id``, with its parameters. The ranges are
    half-open; the first also takes a line without a customer, which sorts first (NULLS FIRST)."""
    cases = ["WHEN customer_id IS NULL THEN 0"]
    cases += [f"WHEN customer_id < ? THEN {number}" for number, _ in enumerate(starts[1:])]
    return f"CASE {' '.join(cases)} ELSE {len(starts) - 1} END", list(starts[1:])


@contextlib.contextmanager
def rated_once(con: duckdb.DuckDBPyConnection, bill_cycle: str,
               lines_per_range: int | None = None) -> Iterator[PackLines]:
    """Rate the cycle's bill lines once into scratch Parquet files cut by customer range (sized by
    ``reports.data.customer_ranges``) and yield them; the files are removed on leaving, also on an
    error. The scratch folder is in the system's temporary directory (``TMPDIR``)."""
    customer_ids, starts = marts.customer_ranges(con, bill_cycle, lines_per_range)
    range_number, parameters = _range_number(starts)
    with tempfile.TemporaryDirectory(prefix="billrecon-pack-lines-") as scratch:
        folder = Path(scratch) / "lines"
        write_rated_lines(con, bill_cycle, folder, range_number, parameters)
        yield PackLines(con, bill_cycle, customer_ids, starts, folder)


def write_rated_lines(con: duckdb.DuckDBPyConnection, bill_cycle: str, folder: Path, range_number: str,
                      parameters: list[str]) -> None:
    """The one query that rates the cycle's lines, into `folder` cut by customer range."""
    con.execute(
        f"COPY (SELECT *, {range_number} AS {RANGE_COLUMN} FROM {CUSTOMER_BILL_LINE.table} "
        f"WHERE {CUSTOMER_BILL_LINE.where}) TO {_sql_text(str(folder))} "
        f"(FORMAT parquet, PARTITION_BY ({RANGE_COLUMN}), COMPRESSION {SCRATCH_COMPRESSION})",
        [*parameters, *CUSTOMER_BILL_LINE.parameters(bill_cycle)])
