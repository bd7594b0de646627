"""CSV files of a month close: the marts for import elsewhere, and one bill per customer; and
``customer_bill_line.parquet``, every bill line of the month for analysts.

Money keeps all 8 stored decimals as plain text (``1234.50000000``, never an exponent), so an
import adds up to the cent exactly as the warehouse does. Text fields are neutralised against
formula injection because these files end up opened in Excel too; numbers are written as numbers.
Lines end in CRLF (RFC 4180).

The rows travel from DuckDB as Arrow batches and are written by polars: a month of ten million
lines is formatted without creating a Python object per value.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from reports import data as marts
from reports import exports
from reports.files import DropBehind, DropBehindFiles, atomic_output_path
from reports.formatting import CURRENCY, MONEY_CONTEXT, money_sum
from reports.pack_lines import PackLines
from reports.safety import FORMULA_TRIGGERS, safe_file_stem, unique_file_stems
from reports.xlsx_tables import EXCEL_MAX_ROWS
from schemas.money import MONEY_QUANTUM

CUSTOMER_BILLS_DIRECTORY = "customer_bills"

# Mart exports are for machines: plain UTF-8. Customer bills are opened by people, mostly in
# Excel, which reads a BOM-less CSV in the legacy code page and garbles Chinese text; the BOM
# makes it read UTF-8.
UTF8_BOM = "\ufeff".encode("utf-8")
LINE_END = "\r\n"

TOTAL_LABEL = "TOTAL"

# customer_bill_line.csv only for a month a spreadsheet can open: a sheet holds EXCEL_MAX_ROWS rows,
# the header one of them. A larger month's lines are in customer_bill_line.parquet only (analysts
# read it, or the warehouse); its bills, one per customer, are CSV whatever the month's size.
ALL_LINES_CSV_MAX_ROWS = EXCEL_MAX_ROWS - 1
PARQUET_COMPRESSION = "zstd"
PARQUET_ROW_GROUP_ROWS = 250_000
# Dictionary-encoded: the columns of few values. A line's own ids, names and amounts take as many
# values as lines, so trying a dictionary for them only cost time (a third of the file's writing at
# the bench month, with these settings the file is 11 % smaller).
PARQUET_DICTIONARY_COLUMNS = (
    "bill_cycle", "customer_id", "customer_name", "partner_id", "original_order_id", "bill_type", "billing_mode",
    "service_type_code", "service_type_name", "resource_type_name", "product_name", "region_code", "usage_unit",
    "discount_rate", "agreement_rule", "src_member")
# Min/max statistics for the columns a reader filters on, which let it skip row groups
PARQUET_STATISTICS_COLUMNS = ("bill_cycle", "customer_id", "partner_id", "trade_time_local", "bill_type",
                              "service_type_code", "region_code")

# (header, customer_bill_line column). The partner's own cost (amount_due) and the internal
# agreement rule are deliberately not part of what the customer receives.
CUSTOMER_BILL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Trade Time (GMT+8)", "trade_time_local"),
    ("Bill Type", "bill_type"),
    ("Order/Transaction No.", "trade_id"),
    ("Original Order No.", "original_order_id"),
    ("Service", "service_type_name"),
    ("Resource Type", "resource_type_name"),
    ("Product", "product_name"),
    ("Region", "region_code"),
    ("Resource ID", "resource_id"),
    ("Resource Name", "resource_name"),
    ("Usage", "usage_amount"),
    ("Usage Unit", "usage_unit"),
    ("List Price ({currency})", "official_amount"),
    ("Discount Rate", "discount_rate"),
    ("Charge ({currency})", "customer_charge_amount"),
)
# Columns summed on the TOTAL line (usage is not: its units differ from line to line).
CUSTOMER_BILL_TOTALLED = ("official_amount", "customer_charge_amount")

_TRIGGER_PATTERN = "^[" + "".join("\\" + c if c in "-^]\\" else c for c in FORMULA_TRIGGERS) + "]"


def csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Text neutralised against formulas, instants as UTC ISO text; numbers untouched."""
    expressions = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype == pl.String:
            expressions.append(
                pl.when(column.str.contains(_TRIGGER_PATTERN)).then(pl.lit("'") + column).otherwise(column)
                .alias(name))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            expressions.append(column.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.f+00:00")
                               .str.replace(r"\.000000\+", "+").alias(name))
    return frame.with_columns(expressions) if expressions else frame


def _write_frame(handle: IO[bytes], frame: pl.DataFrame, header: bool) -> None:
    csv_ready(frame).write_csv(handle, include_header=header, line_terminator=LINE_END)


def _header_line(names: list[str]) -> bytes:
    header = pl.DataFrame({name: pl.Series([], dtype=pl.String) for name in names})
    buffer = io.BytesIO()
    csv_ready(header).write_csv(buffer, include_header=True, line_terminator=LINE_END)
    return buffer.getvalue()


def write_table_csv(
    directory: Path, con: duckdb.DuckDBPyConnection, export: exports.TableExport, bill_cycle: str,
    file_name: str | None = None,
) -> Path:
    """Write every column of ``export``'s rows for the cycle to ``<directory>/<file_name>``
    (default ``<name>.csv``)."""
    path = directory / (file_name or f"{export.name}.csv")
    columns = marts.table_columns(con, export.relation)
    with atomic_output_path(path) as temp_path, temp_path.open("wb") as handle:
        handle.write(_header_line(columns))
        for batch in marts.stream_batches(con, export, bill_cycle):
            _write_frame(handle, batch, header=False)
    return path


@dataclass(frozen=True)
class BillLineFiles:
    """What ``write_customer_bills`` wrote."""

    parquet: Path
    """``customer_bill_line.parquet``: every line of the cycle, every column, typed as in the mart."""
    csv: Path | None
    """``customer_bill_line.csv``; None when the cycle has more lines than a spreadsheet opens."""
    bills: dict[str, Path]
    """Customer id -> that customer's bill CSV."""


def all_lines_csv_written(line_count: int) -> bool:
    """Whether a cycle of ``line_count`` bill lines gets ``customer_bill_line.csv`` besides the Parquet file."""
    return line_count <= ALL_LINES_CSV_MAX_ROWS


def bill_names(directory: Path, lines: PackLines) -> BillNames:
    """The names of the bills ``write_customer_bills`` writes into the pack folder `directory`."""
    return BillNames(directory / CUSTOMER_BILLS_DIRECTORY, lines.customer_ids)


def write_customer_bills(directory: Path, lines: PackLines, currency: str = CURRENCY,
                         names: BillNames | None = None) -> BillLineFiles:
    """Every line of the cycle in ``customer_bill_line.parquet`` (and ``customer_bill_line.csv`` when
    the month fits a spreadsheet), and one CSV per customer with a billed line in the cycle (its
    amounts' headers naming ``currency``), from a single pass over the pack's rated lines sorted by customer.
    `names` places the bills (default ``bill_names``): the one a caller already named them with.

    Bills of customers that no longer have lines (a re-delivered bill file can drop a customer)
    are removed, so the folder always matches the current data; so is an all-lines CSV left from a
    delivery that was small enough for one.
    """
    export = exports.CUSTOMER_BILL_LINE
    parquet_path = directory / f"{export.name}.parquet"
    csv_path = directory / f"{export.name}.csv"
    bills_directory = directory / CUSTOMER_BILLS_DIRECTORY
    bills_directory.mkdir(parents=True, exist_ok=True)
    con = lines.con
    line_count = _billed_line_count(con, lines.bill_cycle)
    folder = _BillFolder(names or bill_names(directory, lines),
                         UTF8_BOM + _header_line([name.replace("{currency}", currency)
                                                  for name, _ in CUSTOMER_BILL_COLUMNS]))
    with contextlib.ExitStack() as outputs:
        # entered first, so left last: the all-lines files are complete before the last bill is
        bills = outputs.enter_context(_BillWriter(folder))
        parquet = outputs.enter_context(_ParquetLines(parquet_path, _parquet_schema(con, export.table)))
        table = (outputs.enter_context(_CsvLines(csv_path, _header_line(marts.table_columns(con, export.table))))
                 if all_lines_csv_written(line_count) else None)
        for batch in lines.batches():
            parquet.write(_parquet_ready(batch))
            if table is not None:
                ready = csv_ready(batch)  # once for both files: the bills' columns are a subset
                table.write(ready)
            else:  # only the bills' columns are formatted
                ready = csv_ready(batch.select([column for _, column in CUSTOMER_BILL_COLUMNS]))
            bills.append(_bill_text(batch, ready))
    if table is None:
        csv_path.unlink(missing_ok=True)
    current = set(folder.written.values())
    for stale in bills_directory.glob("*.csv"):
        if stale not in current:
            stale.unlink()
    return BillLineFiles(parquet_path, csv_path if table is not None else None, folder.written)


def _billed_line_count(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> int:
    """The cycle's bill lines as the expenditure mart counts them, as the workbook does for its
    sheet. Counting the lines' view itself rates every line once more (4.6 CPU-s per million)."""
    (count,) = con.execute(f"SELECT coalesce(sum(expenditure_line_count + refund_line_count), 0) "
                           f"FROM {exports.EXPENDITURE_TABLE} WHERE bill_cycle = ?", [bill_cycle]).fetchone()
    return int(count)


def _parquet_schema(con: duckdb.DuckDBPyConnection, table: str) -> pa.Schema:
    """The Arrow schema the Parquet file is written with: the mart's columns as they reach it
    through polars (so a month without lines gets the same schema as one with lines)."""
    empty = con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table()
    return _parquet_ready(pl.from_arrow(empty)).schema


def _parquet_ready(frame: pl.DataFrame) -> pa.Table:
    """Instants in UTC: the file's bytes must not depend on the session's time zone."""
    instants = [pl.col(name).dt.convert_time_zone("UTC") for name, dtype in frame.schema.items()
                if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None]
    return (frame.with_columns(instants) if instants else frame).to_arrow()


class _BatchThread:
    """A thread of its own that writes one batch at a time while the caller prepares the next:
    handing over a batch first waits for the one before, so at most two are held."""

    def __init__(self, name: str):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._writing: Future | None = None

    def hand_over(self, write: Callable[..., None], *batch) -> None:
        self.written()
        self._writing = self._pool.submit(write, *batch)

    def written(self) -> None:
        """Wait for the batch being written; its error is raised here."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


class _ParquetLines:
    """customer_bill_line.parquet being written batch by batch, renamed into place when complete.

    Rows are written in row groups of PARQUET_ROW_GROUP_ROWS whatever the batches' sizes, so the
    file's bytes depend on the lines alone, not on how the customer ranges cut them. A batch is
    written on a thread of its own while the caller formats the next one's CSV (Arrow's writer
    keeps one core); one batch at a time, so the lines held in memory stay those of two batches.

    The thread is handed Arrow tables, never a polars frame: polars locks a frame while it converts it,
    holding the GIL, and the caller reading the same frame's schema at that moment (it locks the
    frame, then needs the GIL) deadlocked the pack for good."""

    def __init__(self, path: Path, schema: pa.Schema):
        self._target = atomic_output_path(path)
        self._schema = schema
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._thread = _BatchThread("customer-bill-line-parquet")

    def __enter__(self) -> _ParquetLines:
        temp_path = self._target.__enter__()
        names = set(self._schema.names)
        self._writer = pq.ParquetWriter(
            temp_path, self._schema, compression=PARQUET_COMPRESSION,
            use_dictionary=[column for column in PARQUET_DICTIONARY_COLUMNS if column in names],
            write_statistics=[column for column in PARQUET_STATISTICS_COLUMNS if column in names])
        return self

    def write(self, rows: pa.Table) -> None:
        """Write `rows` (`_parquet_ready`'s table of a batch) on the writing thread."""
        if not isinstance(rows, pa.Table):
            raise TypeError(f"the writing thread takes an Arrow table, not {type(rows).__name__}")
        self._thread.hand_over(self._write, rows)

    def _write(self, rows: pa.Table) -> None:
        self._pending.append(rows if rows.schema == self._schema else rows.cast(self._schema))
        self._pending_rows += rows.num_rows
        if self._pending_rows >= PARQUET_ROW_GROUP_ROWS:
            rows = pa.concat_tables(self._pending)
            whole = rows.num_rows - rows.num_rows % PARQUET_ROW_GROUP_ROWS
            self._writer.write_table(rows.slice(0, whole), row_group_size=PARQUET_ROW_GROUP_ROWS)
            self._pending = [rows.slice(whole)]
            self._pending_rows = rows.num_rows - whole

    def __exit__(self, *exc) -> bool | None:
        try:
            self._thread.written()
            if exc[0] is None and self._pending_rows:
                self._writer.write_table(pa.concat_tables(self._pending))
        except BaseException as error:
            self._close()
            self._target.__exit__(type(error), error, error.__traceback__)  # the partial file is removed
            if exc[0] is None:
                raise
            return None  # the caller's own error goes on
        self._close()
        return self._target.__exit__(*exc)

    def _close(self) -> None:
        self._thread.shutdown()
        self._writer.close()  # the footer: a file without one is not read back


class _CsvLines:
    """customer_bill_line.csv being written batch by batch, renamed into place when complete."""

    def __init__(self, path: Path, header: bytes):
        self._target = atomic_output_path(path)
        self._header = header

    def __enter__(self) -> _CsvLines:
        self._handle = self._target.__enter__().open("wb")
        self._handle.write(self._header)
        self._drop_behind = DropBehind(self._handle)
        return self

    def write(self, ready: pl.DataFrame) -> None:
        ready.write_csv(self._handle, include_header=False, line_terminator=LINE_END)
        self._drop_behind.wrote()

    def __exit__(self, *exc) -> bool | None:
        self._handle.close()
        return self._target.__exit__(*exc)


@dataclass(frozen=True)
class _BillText:
    """A batch's lines as the bills' CSV text, cut by customer: the batch is ordered by customer, so
    each customer's lines are one run of rows, and one stretch of the text."""

    text: memoryview
    runs: list[tuple[str | None, int, int, dict]]
    """(customer id, first byte, end byte, the run's sums of CUSTOMER_BILL_TOTALLED) in order."""


def _bill_text(batch: pl.DataFrame, ready: pl.DataFrame) -> _BillText:
    """Format a batch as CSV once and find where each customer's lines start and end in the text:
    a polars call per customer cost more than the writing itself."""
    # the raw id (`batch`) keys the files; the bill's columns come neutralised for spreadsheets (`ready`)
    ready = ready.select([column for _, column in CUSTOMER_BILL_COLUMNS])
    runs = batch["customer_id"].rle().struct.unnest()
    totals = {row["customer_id"]: row for row in batch.group_by("customer_id").agg(
        pl.col(list(CUSTOMER_BILL_TOTALLED)).sum()).iter_rows(named=True)}
    text = _csv_text(ready)
    line_ends = _line_ends(text, ready)
    cut, start = [], 0
    for length, customer_id in runs.iter_rows():
        first = int(line_ends[start - 1]) + 1 if start else 0
        cut.append((customer_id, first, int(line_ends[start + length - 1]) + 1, totals[customer_id]))
        start += length
    return _BillText(memoryview(text), cut)  # slices of a view are written without copying the text


class _BillWriter:
    """The customers' bills being written, one batch's text at a time, on a thread of its own: the
    writes (2 GB at ten million lines) go on while the caller formats the next batch, where they
    had kept a core waiting. One bill is open at a time (a customer's lines arrive together,
    perhaps split over two batches); one batch is held while the previous one is written.

    Leaving completes the open bill, or, on an error, removes it unfinished: a failed export (a
    full disk) leaves that bill on disk as it was."""

    def __init__(self, folder: _BillFolder):
        self._folder = folder
        self._bill: _OpenBill | None = None
        self._thread = _BatchThread("customer-bills")

    def __enter__(self) -> _BillWriter:
        return self

    def append(self, lines: _BillText) -> None:
        """Append a batch's lines to the bills on the writing thread (after the previous batch's)."""
        self._thread.hand_over(self._append, lines)

    def _append(self, lines: _BillText) -> None:
        for customer_id, first, end, sums in lines.runs:
            if self._bill is None or self._bill.customer_id != customer_id:
                if self._bill is not None:
                    self._bill.close()
                self._bill = self._folder.open(customer_id)
            self._bill.write(lines.text[first:end])
            self._bill.add_totals(sums)

    def __exit__(self, *exc) -> bool | None:
        try:
            self._thread.written()
        except BaseException:
            self._finish(complete=False)
            if exc[0] is None:
                raise
            return None  # the caller's own error goes on
        self._finish(complete=exc[0] is None)
        return None

    def _finish(self, complete: bool) -> None:
        self._thread.shutdown()
        bill, self._bill = self._bill, None
        if bill is not None and complete:
            bill.close()
        elif bill is not None:
            bill.abandon()


class BillNames:
    """Where each customer's CSV bill goes in a pack's bills folder: one home for the names, which
    the PDF statements beside the bills use too, before the bills are written."""

    def __init__(self, directory: Path, customer_ids: list[str | None]):
        self.directory = directory
        self._stems = unique_file_stems([customer_id or "" for customer_id in customer_ids])

    def path(self, customer_id: str | None) -> Path:
        """The bill's path. A customer the mart did not list (the mart and the lines disagree: a
        bug) still gets a bill, under a name with its id's hash that no listed customer can take."""
        key = customer_id or ""
        if key not in self._stems:
            self._stems[key] = f"{safe_file_stem(key)}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:10]}"
        return self.directory / f"{self._stems[key]}.csv"


def _csv_text(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, line_terminator=LINE_END)
    return buffer.getvalue()


def _line_ends(text: bytes, frame: pl.DataFrame) -> np.ndarray:
    """Offset of the LF that ends each row of `frame` in its CSV `text`. A field may hold line
    breaks of its own (quoted), so row r ends at the LF numbered by the rows' LF counts so far."""
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    breaks = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord("\n"))
    if not strings or len(breaks) == frame.height:  # one LF per row: no field holds one
        return breaks
    inner = frame.select(pl.sum_horizontal(pl.col(strings).str.count_matches("\n", literal=True).fill_null(0))
                         ).to_series().to_numpy()
    return breaks[np.cumsum(inner + 1) - 1]


@dataclass
class _BillFolder:
    """Where the bills go, under which names, with which header; and which were written."""

    names: BillNames
    header: bytes
    written: dict[str, Path] = field(default_factory=dict)
    drop_behind: DropBehindFiles = field(default_factory=DropBehindFiles)

    def open(self, customer_id: str | None) -> _OpenBill:
        path = self.names.path(customer_id)
        self.written[customer_id] = path
        return _OpenBill(customer_id, path, self.header, self.drop_behind)


class _OpenBill:
    """One customer's bill being written: its lines as they stream in, then the TOTAL line."""

    def __init__(self, customer_id: str | None, path: Path, header: bytes, drop_behind: DropBehindFiles):
        self.customer_id = customer_id
        self._path = path
        self._drop_behind = drop_behind
        self._target = atomic_output_path(path)
        self._temp_path = self._target.__enter__()
        self._handle = self._temp_path.open("wb")
        self._handle.write(header)
        self._totals = {column: Decimal(0) for column in CUSTOMER_BILL_TOTALLED}

    def write(self, lines: bytes | memoryview) -> None:
        self._handle.write(lines)

    def add_totals(self, sums: dict) -> None:
        for column in CUSTOMER_BILL_TOTALLED:
            self._totals[column] = money_sum((self._totals[column], sums[column]))

    def close(self) -> None:
        fields = [TOTAL_LABEL] + [
            format(self._totals[column].quantize(MONEY_QUANTUM, context=MONEY_CONTEXT), "f")
            if column in self._totals else ""
            for _, column in CUSTOMER_BILL_COLUMNS[1:]
        ]
        self._handle.write((",".join(fields) + LINE_END).encode("utf-8"))
        self._drop_behind.closing(self._handle, self._path)
        self._handle.close()
        self._target.__exit__(None, None, None)

    def abandon(self) -> None:
        self._handle.close()
        self._temp_path.unlink(missing_ok=True)
