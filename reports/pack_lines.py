"""The month's bill lines, rated once for a month-close pack.

``marts.customer_bill_line`` is a view over ``core.rated_bill_line``, itself a view: every query on
it rates the month's lines again (the agreed discounts looked up, the refunds priced). A pack reads
the lines several times: the bills and the all-lines files one sorted customer range at a time (a
range holds what the memory budget sorts, ``reports.data.customer_ranges``; 39 ranges at ten
million lines and the default budget), the PDF statements' sums, the refund list and the workbook's
line sheet. So ``rated_once`` rates them in one query that copies the cycle's lines to one scratch
Parquet file, which the pack's SQL reads, and polars cuts that file into one folder per customer
range, which the bills read a range at a time. The files are removed when the pack is done or fails.

Why two steps and not DuckDB's ``COPY ... PARTITION_BY``: at ten million lines the partitioned
COPY took 34 s and 65 CPU-s under the memory budget, the plain COPY 14 s and 28 CPU-s and polars'
cut of its file 5 s and 9 CPU-s (bench/README.md; measured before the charge's 64-bit rounding in
core.rated_bill_line, which halved the plain COPY). Later, the partitioned COPY was 1-2 s faster at
the default budget but twice as slow at a smaller one, where the ranges are more.

Memory: the rating leaves DuckDB's buffer pool full of the staged lines it read (574 MiB of them at
ten million lines), which nothing after it reads, so the pool is emptied before the cut: the pack's
peak fell from 2.19 to 1.57 GiB (`bench.profile`). The cut buffers a chunk of lines per range, so its
chunks shrink as the ranges grow in number, to stay within DuckDB's share, which the emptied pool
left free: at half the default budget (82 ranges) the cut peaked at 0.94 GiB instead of 2.08 GiB.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from reports import data as marts
from reports.exports import CUSTOMER_BILL_LINE, TableExport
from schemas.memory import empty_buffer_pool
from schemas.scratch import scratch_folder

# Scratch, read back once: DuckDB's default Parquet compression (a ten-million-line month took 416 MB)
SCRATCH_COMPRESSION = "snappy"
# Version 2's encodings: DuckDB wrote the ten-million-line month with 6 % less CPU (14.2-14.4 against
# 14.9-15.4 CPU-s), polars cut it as fast
SCRATCH_PARQUET_VERSION = "V2"
SCRATCH_PREFIX = "billrecon-pack-lines-"
RANGE_COLUMN = "range_number"
WHOLE_FILE = "lines.parquet"
# polars reads the whole file a row group at a time, several at once: with DuckDB's default row
# groups (122,880 lines) the process peaked at 2.1 GiB during the cut at ten million lines, 1.6 GiB
# with these, for the same time
WHOLE_ROW_GROUP_ROWS = 32_768
RANGES_FOLDER = "ranges"
# polars cuts the file in chunks of at most this many lines, each range's file in row groups of as
# many: in a process of its own the cut peaked at 1.0 GiB at ten million lines (39 ranges), at 2.4 GiB
# with polars' defaults
CUT_ROWS = 20_000
# What the cut holds per line of its chunks, for each range at once: about 590 bytes measured at ten
# million lines (82 ranges of 20,000-line chunks took 0.96 GiB more), with room to spare
CUT_LINE_BYTES = 1024
# The fewest lines per chunk, for the smallest budgets: smaller chunks cost the cut more (at ten
# million lines and 82 ranges, 5,000 lines took 11.2 s, 10,000 lines 9.5 s)
MIN_CUT_ROWS = 2_048
# lz4 costs the cut the least CPU and the files it writes stay near the whole file's size
CUT_COMPRESSION = "lz4"


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
    whole: Path
    """Every line of the cycle in one file, with its range number."""
    folder: Path
    """One folder per customer range, ``range_number=N``, without the range number."""

    def _files(self, pattern: str) -> list[str]:
        return sorted(str(path) for path in self.folder.glob(pattern))

    @property
    def table(self) -> str:
        """A table expression of every line of the cycle, with the mart's columns, to read instead of
        ``marts.customer_bill_line``. A cycle without lines has no range: then the (empty) mart."""
        if not self._files(f"{RANGE_COLUMN}=*/*.parquet"):
            return CUSTOMER_BILL_LINE.table
        return f"(SELECT * EXCLUDE ({RANGE_COLUMN}) FROM {_parquet_files([str(self.whole)])})"

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
    error. The scratch folder is in the system's temporary directory (``TMPDIR``); those of a killed
    pack are removed by the next one (``schemas.scratch``)."""
    customer_ids, starts = marts.customer_ranges(con, bill_cycle, lines_per_range)
    range_number, parameters = _range_number(starts)
    with scratch_folder(SCRATCH_PREFIX) as scratch:
        whole, folder = scratch / WHOLE_FILE, scratch / RANGES_FOLDER
        write_rated_lines(con, bill_cycle, whole, range_number, parameters)
        empty_buffer_pool(con)  # the staged lines the rating read: nothing after it reads them
        cut_by_range(whole, folder, cut_rows(marts.duckdb_memory_limit_bytes(con), len(starts)))
        yield PackLines(con, bill_cycle, customer_ids, starts, whole, folder)


def write_rated_lines(con: duckdb.DuckDBPyConnection, bill_cycle: str, whole: Path, range_number: str,
                      parameters: list[str]) -> None:
    """The one query that rates the cycle's lines, into the file `whole` with each line's range number."""
    con.execute(
        f"COPY (SELECT *, {range_number} AS {RANGE_COLUMN} FROM {CUSTOMER_BILL_LINE.table} "
        f"WHERE {CUSTOMER_BILL_LINE.where}) TO {_sql_text(str(whole))} "
        f"(FORMAT parquet, COMPRESSION {SCRATCH_COMPRESSION}, ROW_GROUP_SIZE {WHOLE_ROW_GROUP_ROWS}, "
        f"PARQUET_VERSION {SCRATCH_PARQUET_VERSION})",
        [*parameters, *CUSTOMER_BILL_LINE.parameters(bill_cycle)])


def cut_rows(duckdb_limit_bytes: int, ranges: int) -> int:
    """Lines per chunk of the cut: what DuckDB's share of the budget holds for every range at once,
    within [MIN_CUT_ROWS, CUT_ROWS]."""
    return max(MIN_CUT_ROWS, min(CUT_ROWS, duckdb_limit_bytes // (max(ranges, 1) * CUT_LINE_BYTES)))


def cut_by_range(whole: Path, folder: Path, rows: int = CUT_ROWS) -> None:
    """The lines of `whole` into `folder`, one ``range_number=N`` folder per range that has lines
    (none for a file without lines), read and written `rows` lines at a time. The order of the lines
    within a range is not kept: the readers sort each range."""
    folder.mkdir()
    with pl.Config(streaming_chunk_size=rows):
        pl.scan_parquet(whole).sink_parquet(
            pl.PartitionBy(folder, key=RANGE_COLUMN, include_key=False, approximate_bytes_per_file=None),
            compression=CUT_COMPRESSION, statistics=False, row_group_size=rows, maintain_order=False)
