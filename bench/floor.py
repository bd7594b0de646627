"""The floor: the same bill archive loaded by DuckDB's own CSV reader into a typed table, nothing else.

What is measured: every CSV member of `customerBill_YYYYMM.tar.gz` inserted into one table of a
DuckDB file with explicit types (money `DECIMAL(20,8)`, usage `DECIMAL(28,8)`, codes and periods
`SMALLINT`, the GMT+8 time `TIMESTAMPTZ`, everything else `VARCHAR`; no sniffing), with the
warehouse's DuckDB settings (4 GB memory limit, 2 threads), then a checkpoint so the table is on
disk. No validation, quarantine, lineage, models or reports.

Why this way. DuckDB cannot read inside a tar.gz, so something has to inflate the archive, and
every loader of this file pays for that single-threaded gzip stream; the floor pays it too. The
members are streamed out with Python's `tarfile` in stream mode (`r|gz`) in 1 MiB pieces, each
written to a temporary file that DuckDB's `read_csv` reads at once and that is deleted right
after, so one member at a time is on disk and in memory. Alternatives tried on the 1 M month (2
cores): handing DuckDB the bytes through a Python file object (`read_csv(io.BytesIO(...))`, via
fsspec) was ~10 % slower and held each member twice in memory; inflating member k+1 on a thread
while DuckDB loads member k gained nothing (DuckDB's parse already keeps both cores busy) and lost
when other processes competed for the cores; extracting every member first and loading them with
one `read_csv([...])` was within noise but needs the whole month uncompressed on disk (6 GB at
10 M lines). billrecon walks the tar stream with its own reader, which hands
over whole members with fewer copies; used here it loaded the 3 M month no faster (26.1 and 28.2 s
against 25.4 and 27.2 s), since the floor never holds a whole member. The result reports
`inflate_seconds` and `load_seconds` separately.
"""

from __future__ import annotations

import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from schemas.money import MONEY_SQL as MONEY
from schemas.money import QUANTITY_SQL

TEXT, SMALL = "VARCHAR", "SMALLINT"

# The bill line columns in file order (docs/formats.md#bill-line-columns): (canonical name, type).
# read_csv assigns these by position.
BILL_LINE_TYPES: tuple[tuple[str, str], ...] = (
    ("bill_cycle", TEXT), ("customer_id", TEXT), ("customer_name", TEXT), ("account_name", TEXT),
    ("partner_id", TEXT), ("partner_name", TEXT), ("bill_type", TEXT), ("billing_mode", SMALL),
    ("service_type_code", TEXT), ("service_type_name", TEXT), ("resource_type_code", TEXT),
    ("resource_type_name", TEXT), ("product_id", TEXT), ("product_name", TEXT), ("spec_desc", TEXT),
    ("region_code", TEXT), ("region_name", TEXT), ("resource_id", TEXT), ("resource_name", TEXT),
    ("trade_id", TEXT), ("original_order_id", TEXT), ("trade_time", "TIMESTAMPTZ"), ("order_type", TEXT),
    ("period_num", SMALL), ("period_unit", TEXT), ("is_spot", TEXT), ("usage_type", TEXT),
    ("usage_amount", QUANTITY_SQL), ("usage_unit", TEXT), ("official_amount", MONEY),
    ("discount_amount", MONEY), ("discount_types", TEXT), ("truncated_amount", MONEY), ("amount_due", MONEY),
    ("cash_amount", MONEY), ("credit_amount", MONEY), ("cash_coupon_amount", MONEY), ("voucher_amount", MONEY),
    ("stored_card_amount", MONEY), ("debt_amount", MONEY), ("writeoff_amount", MONEY),
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S GMT%z"  # '2026-10-28 09:00:00 GMT+08:00'


def _read_csv_options() -> str:
    # The time is read as text and converted by strptime in the insert: DuckDB 1.5.5's read_csv with a
    # `timestampformat` ending in 'GMT%z' loaded every time as NULL, at ~200 µs a row (21 s for a
    # 100,000-line member instead of 0.3 s), while strptime reads the same text exactly.
    columns = ", ".join(f"'{name}': '{'VARCHAR' if kind == 'TIMESTAMPTZ' else kind}'" for name, kind in BILL_LINE_TYPES)
    return (f"header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
            f"columns = {{{columns}}}")


def _select_list() -> str:
    return ", ".join(f"strptime({name}, '{TIME_FORMAT}')" if kind == "TIMESTAMPTZ" else name
                     for name, kind in BILL_LINE_TYPES)


def _members(archive: Path, scratch: Path, timing: dict) -> Iterator[Path]:
    """Each CSV member of `archive` written to a file in `scratch`, one at a time."""
    with tarfile.open(archive, mode="r|gz") as tar:
        for info in tar:
            if not info.isfile():
                continue
            started = time.perf_counter()
            path = scratch / Path(info.name).name
            with tar.extractfile(info) as source, path.open("wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
            timing["inflate_seconds"] += time.perf_counter() - started
            yield path


def load_archive(archive: Path, database: Path, scratch: Path, memory_limit: str = "4GB", threads: int = 2) -> dict:
    """Load every member of `archive` into `bill_line` of a new DuckDB file; returns counts and timings."""
    for leftover in (database, database.with_name(database.name + ".wal")):
        leftover.unlink(missing_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(database), config={"memory_limit": memory_limit, "threads": str(threads)})
    con.execute("create table bill_line (" + ", ".join(f"{n} {t}" for n, t in BILL_LINE_TYPES) + ")")
    insert = f"insert into bill_line select {_select_list()} from read_csv($path, {_read_csv_options()})"
    timing = {"inflate_seconds": 0.0, "load_seconds": 0.0}
    members = 0
    for path in _members(archive, scratch, timing):
        started = time.perf_counter()
        con.execute(insert, {"path": str(path)})
        timing["load_seconds"] += time.perf_counter() - started
        path.unlink()
        members += 1
    started = time.perf_counter()
    con.execute("checkpoint")
    timing["checkpoint_seconds"] = time.perf_counter() - started
    rows = con.execute("select count(*) from bill_line").fetchone()[0]
    con.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return {"rows": rows, "members": members, "database_bytes": database.stat().st_size,
            **{k: round(v, 3) for k, v in timing.items()}}


def floor_step(args: dict) -> dict:
    """Child-process entry: args = {"world": DIR, "work": DIR}."""
    from bench.common import bill_key

    work = Path(args["work"])
    found_previous_files = work.exists()  # `bench.run` removes them before the step's time starts
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return {**load_archive(Path(args["world"]) / bill_key(), work / "floor.duckdb", work / "members"),
            "found_previous_files": found_previous_files}
