"""A month-close pack rates the month's bill lines once (reports/pack_lines.py): one query reads
marts.customer_bill_line, every reader of the pack reads that copy, cut by customer range, and the
copy is removed afterwards, also when the pack fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from reports import data as marts_data
from reports import render_month_close
from reports.customer_statements import FONT_SCRATCH_PREFIX as FONT_SCRATCH
from reports.exports import CUSTOMER_BILL_LINE
from reports.pack_lines import SCRATCH_PREFIX as PACK_SCRATCH
from reports.pack_lines import cut_rows, rated_once
from schemas import memory
from tests.duckdb_memory import cached_mib
from tests.unit.month_close.pack_warehouse import ACME, CYCLE, build_warehouse, file_bytes


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """The system temporary directory, for this test only: where the pack's copy of the lines goes."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def reads_of_the_lines(con) -> list[str]:
    """The logged queries that read rows of marts.customer_bill_line (`LIMIT 0` reads its columns only)."""
    messages = [message for (message,) in con.execute(
        "SELECT message FROM duckdb_logs WHERE type = 'QueryLog' ORDER BY timestamp").fetchall()]
    return [message for message in messages
            if CUSTOMER_BILL_LINE.table in message and not message.rstrip().endswith("LIMIT 0")]


def test_a_pack_reads_the_month_s_bill_lines_in_one_query_and_removes_its_copy(warehouse, tmp_path, scratch):
    warehouse.execute("CALL enable_logging('QueryLog')")
    report = render_month_close(warehouse, CYCLE, tmp_path / CYCLE)
    reads = reads_of_the_lines(warehouse)
    # the bills, the all-lines files, the statements, the refund list and the workbook's line sheet
    # all read the copy the one COPY wrote
    assert len(reads) == 1
    assert reads[0].startswith("COPY (SELECT *, CASE")
    assert len(report.customer_bills) == 3 and len(report.customer_statements) == 3
    assert list(scratch.iterdir()) == []


def test_the_copy_is_removed_when_the_pack_fails(warehouse, tmp_path, scratch):
    # a folder where a customer's bill goes: the bill cannot be moved into place
    blocked = tmp_path / CYCLE / "customer_bills" / f"{ACME[0]}.csv"
    blocked.mkdir(parents=True)
    with pytest.raises(OSError):
        render_month_close(warehouse, CYCLE, tmp_path / CYCLE)
    assert list(scratch.iterdir()) == []


def killed_while_holding(prefixes: list[str]) -> list[Path]:
    """The scratch folders (with a file each) that a process made and could not remove: it was killed."""
    made = subprocess.run(
        [sys.executable, "-c",
         "import os, signal, sys\n"
         "from schemas.scratch import scratch_folder\n"
         "held = [scratch_folder(prefix) for prefix in sys.argv[1:]]\n"
         "for folder in (each.__enter__() for each in held):\n"
         "    (folder / 'lines.parquet').write_bytes(bytes(1024))\n"
         "    print(folder, flush=True)\n"
         "os.kill(os.getpid(), signal.SIGKILL)\n", *prefixes],
        capture_output=True, text=True, env={**os.environ, "TMPDIR": tempfile.gettempdir()})
    assert made.returncode == -signal.SIGKILL
    return [Path(line) for line in made.stdout.split()]


def test_the_scratch_of_a_killed_pack_is_removed_by_the_next_pack(warehouse, tmp_path, scratch):
    abandoned = killed_while_holding([PACK_SCRATCH, FONT_SCRATCH])
    assert [folder.parent for folder in abandoned] == [scratch, scratch]
    running = scratch / f"{PACK_SCRATCH}{os.getppid()}-0123456789ab"  # a pack of a process still running
    running.mkdir()
    render_month_close(warehouse, CYCLE, tmp_path / CYCLE)
    assert list(scratch.iterdir()) == [running]


def all_batches(lines) -> pl.DataFrame:
    return pl.concat(list(lines.batches()))


def test_lines_cut_into_a_range_per_customer_are_the_mart_s_rows_in_the_mart_s_order(warehouse, scratch):
    # a line without a customer sorts first (NULLS FIRST): the first range takes it
    warehouse.execute("INSERT INTO marts.customer_bill_line SELECT * REPLACE (NULL AS customer_id, 'T-X' AS trade_id) "
                      "FROM marts.customer_bill_line WHERE trade_id = 'T-200'")
    mart = pl.concat(list(marts_data.stream_batches(warehouse, CUSTOMER_BILL_LINE, CYCLE)))
    assert mart.height == 8 and mart["customer_id"][0] is None
    with rated_once(warehouse, CYCLE, lines_per_range=1) as ranged:
        assert len(ranged.range_starts) == 3
        assert sorted(path.name for path in ranged.folder.iterdir()) == [
            "range_number=0", "range_number=1", "range_number=2"]
        by_range = all_batches(ranged)
        # the pack's SQL reads the whole file: the mart's columns (not the range number), all lines
        assert marts_data.table_columns(warehouse, ranged.table) == list(mart.columns)
        assert warehouse.execute(f"SELECT count(*) FROM {ranged.table}").fetchone() == (8,)
    with rated_once(warehouse, CYCLE, lines_per_range=1_000_000) as whole:
        assert whole.range_starts == [None]
        in_one = all_batches(whole)
    # same values, same types (decimals, SMALLINT), same order
    assert by_range.equals(mart) and in_one.equals(mart)
    assert by_range.schema == mart.schema
    assert list(scratch.iterdir()) == []


def test_each_range_is_sorted_as_duckdb_sorts_text_byte_by_byte_with_nulls_first(warehouse, scratch):
    """The ranges are sorted by polars, not by the mart's ORDER BY: both must agree on text that is
    upper and lower case, not ASCII, a prefix of another, or missing."""
    keys = [("Zeta", "2026-09-01 00:00:00", "b"), ("zeta", None, "a"), ("客户", "2026-09-01 00:00:00", "T"),
            ("Ä", "2026-09-02 00:00:00", "t"), ("zet", "2026-09-01 00:00:00", "😀"),
            ("zeta", "2026-09-01 00:00:00", "B"), ("zeta", "2026-09-01 00:00:00", "b"), ("zeta", None, None)]
    for number, (customer, time_local, trade) in enumerate(keys):
        warehouse.execute("INSERT INTO marts.customer_bill_line SELECT * REPLACE (? AS customer_id, "
                          "? AS trade_time_local, ? AS trade_id, 900 + ? AS src_record) "
                          "FROM marts.customer_bill_line WHERE trade_id = 'T-200'", [customer, time_local, trade, number])
    mart = pl.concat(list(marts_data.stream_batches(warehouse, CUSTOMER_BILL_LINE, CYCLE)))
    with rated_once(warehouse, CYCLE, lines_per_range=3) as ranged:
        assert len(ranged.range_starts) > 2
        by_range = all_batches(ranged)
    assert by_range.equals(mart)
    # byte order: upper case before lower, a prefix before what extends it, ASCII before Ä before 客
    assert by_range.filter(pl.col("src_record") >= 900)["trade_id"].to_list() == [
        "b", "😀", None, "a", "B", "b", "t", "T"]


def test_a_cycle_without_lines_reads_the_empty_mart(warehouse, scratch):
    with rated_once(warehouse, "2026-01") as lines:
        assert lines.table == CUSTOMER_BILL_LINE.table
        assert list(lines.batches()) == []


def test_a_pack_cut_into_a_range_per_customer_is_byte_identical_to_one_range(warehouse, tmp_path, monkeypatch):
    render_month_close(warehouse, CYCLE, tmp_path / "one", notes=["note"])
    monkeypatch.setattr(marts_data.memory, "lines_per_range", lambda limit: 1)
    render_month_close(warehouse, CYCLE, tmp_path / "many", notes=["note"])
    assert file_bytes(tmp_path / "one") == file_bytes(tmp_path / "many")


@pytest.mark.slow  # 800,000 lines written to a file and read
def test_the_warehouse_s_cached_blocks_are_given_back_before_the_lines_are_cut(tmp_path, scratch):
    """Nothing after the rating reads the warehouse's lines, but DuckDB keeps the blocks it read cached
    up to its limit, under the cut and the bills (at ten million lines, 574 MiB under the pack's peak)."""
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    build_warehouse(con)
    con.execute("INSERT INTO marts.customer_bill_line SELECT line.* REPLACE (md5(n::VARCHAR) || md5((-n)::VARCHAR) "
                "AS trade_id, 1000 + n AS src_record) FROM marts.customer_bill_line AS line, range(800000) AS r(n) "
                "WHERE line.trade_id = 'T-200'")
    con.close()
    con = duckdb.connect(str(path), config={"memory_limit": "1GiB"})
    assert con.execute("SELECT count(DISTINCT trade_id) FROM marts.customer_bill_line").fetchone() == (800_007,)
    assert cached_mib(con, "BASE_TABLE") > 20  # what reading the lines left cached
    with rated_once(con, CYCLE) as lines:
        assert cached_mib(con, "BASE_TABLE") <= memory.parse_bytes(memory.EMPTY_POOL_LIMIT) >> 20
        assert marts_data.duckdb_memory_limit_bytes(con) == 1 << 30  # the limit is back
        assert con.execute(f"SELECT count(*) FROM {lines.table}").fetchone() == (800_007,)
    con.close()


def test_the_cut_s_chunks_shrink_as_the_ranges_grow_in_number_to_stay_in_duckdb_s_share():
    # the default budget (DuckDB 1 GiB) at ten million lines: 39 ranges, the largest chunks
    assert cut_rows(1 << 30, 39) == 20_000
    # half that budget, 82 ranges: a chunk per range, at 1 KiB a line, fills DuckDB's share
    assert cut_rows(512 << 20, 82) == (512 << 20) // (82 * 1024) == 6_393
    # the smallest budget and a long month: the floor; a month without ranges: the largest
    assert cut_rows(128 << 20, 400) == 2_048
    assert cut_rows(1 << 30, 0) == 20_000
