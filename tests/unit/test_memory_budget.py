"""The memory budget (BILLRECON_MEMORY_LIMIT): DuckDB's share and the report pack's customer ranges."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.resources import WarehouseResource
from reports import data as marts_data
from schemas import memory
from tests.duckdb_memory import cached_mib


@pytest.mark.parametrize(("text", "expected"), [
    ("2GiB", 2 << 30), ("1.5 GB", 1_500_000_000), ("953.6 MiB", int(953.6 * (1 << 20))), ("4096", 4096),
])
def test_sizes_are_read_in_every_unit_duckdb_and_people_write(text, expected):
    assert memory.parse_bytes(text) == expected


def test_a_size_without_a_known_unit_is_one_clear_error():
    with pytest.raises(ValueError, match="'2 apples' is not a memory size: give a number with one of the units"):
        memory.parse_bytes("2 apples")


def test_duckdb_gets_half_of_the_budget_and_the_ranges_follow_its_share():
    assert memory.duckdb_memory_limit("2GiB") == "1024MiB"
    assert memory.lines_per_range(1 << 30) == 262_144
    assert memory.lines_per_range(64 << 30) == memory.MAX_LINES_PER_RANGE
    assert memory.lines_per_range(1 << 20) == memory.MIN_LINES_PER_RANGE


def test_the_warehouse_connection_carries_duckdb_s_share(tmp_path):
    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"), memory_limit="3GiB")
    with warehouse.connect() as con:
        assert marts_data.duckdb_memory_limit_bytes(con) == 1536 << 20


def test_a_connection_of_its_own_stays_within_the_process_budget(tmp_path, monkeypatch):
    """The command's summaries and reports open the warehouse themselves: without a limit DuckDB would
    take 80 % of the machine's memory."""
    from pipelines.lib.warehouse import connect

    monkeypatch.setenv(memory.MEMORY_VARIABLE, "3GiB")
    con = connect(tmp_path / "w.duckdb")
    assert marts_data.duckdb_memory_limit_bytes(con) == 1536 << 20
    con.close()
    monkeypatch.delenv(memory.MEMORY_VARIABLE)
    con = connect(tmp_path / "w.duckdb", read_only=True)
    assert marts_data.duckdb_memory_limit_bytes(con) == 1024 << 20  # the default budget, 2 GiB
    con.close()
    monkeypatch.setenv(memory.MEMORY_VARIABLE, "lots")  # refused by the run in one line; here, the default
    assert memory.process_duckdb_memory_limit() == "1024MiB"


def test_the_budget_does_not_refuse_a_file_this_process_already_has_open(tmp_path, monkeypatch):
    """DuckDB refuses a second connection to an open file whose config differs: a notebook or a test that
    holds the warehouse open must still be able to export from it in the same process."""
    from pipelines.lib.warehouse import connect

    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    held = duckdb.connect(str(path), read_only=True)
    monkeypatch.setenv(memory.MEMORY_VARIABLE, "3GiB")
    con = connect(path, read_only=True, threads=1)
    assert marts_data.duckdb_memory_limit_bytes(con) == 1536 << 20
    assert con.execute("select current_setting('threads')").fetchone()[0] == 1
    con.close()
    held.close()


def test_customer_ranges_are_sized_from_the_connection_s_memory_limit():
    con = duckdb.connect(config={"memory_limit": "400MiB"})  # 102,400 lines per range
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.customer_monthly_expenditure (bill_cycle VARCHAR, customer_id VARCHAR, "
                "expenditure_line_count BIGINT, refund_line_count BIGINT)")
    con.executemany("INSERT INTO marts.customer_monthly_expenditure VALUES ('2026-09', ?, ?, 0)",
                    [[f"C{n}", 40_000] for n in range(6)])
    customers, starts = marts_data.customer_ranges(con, "2026-09")
    assert customers == [f"C{n}" for n in range(6)]
    assert starts == [None, "C2", "C4"]  # two customers of 40,000 lines fit 102,400, a third does not


def test_the_memory_setting_of_an_earlier_version_is_refused_rather_than_ignored():
    from pipelines.settings import invalid_settings

    assert invalid_settings({"BILLRECON_DUCKDB_MEMORY_LIMIT": "4GB"}) == [
        "BILLRECON_DUCKDB_MEMORY_LIMIT was renamed BILLRECON_MEMORY_LIMIT, now the run's whole memory budget "
        "(DuckDB gets half of it)"]
    assert invalid_settings({"BILLRECON_MEMORY_LIMIT": "3GiB"}) == []
    assert invalid_settings({"BILLRECON_MEMORY_LIMIT": "lots"}) == [
        "BILLRECON_MEMORY_LIMIT='lots' is not a memory size: give a number with one of the units KiB, MiB, GiB, "
        "TiB, KB, MB, GB, TB (e.g. 2GiB)"]


@pytest.mark.parametrize("budget", ["0", "1KB", "255MiB"])
def test_a_budget_below_the_smallest_a_run_works_in_is_refused(budget):
    from pipelines.settings import invalid_settings

    assert invalid_settings({"BILLRECON_MEMORY_LIMIT": budget}) == [
        f"BILLRECON_MEMORY_LIMIT={budget!r} is less than 256MiB, the smallest budget a run works in (DuckDB gets half "
        "of it)"]
    assert invalid_settings({"BILLRECON_MEMORY_LIMIT": "256MiB"}) == []


@pytest.fixture
def read_warehouse(tmp_path):
    """A warehouse file whose table of a million rows of text was just read: its blocks are cached."""
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table lines as select range as id, md5(range::varchar) || md5((-range)::varchar) as text "
                "from range(1000000)")
    con.close()
    con = duckdb.connect(str(path), config={"memory_limit": "256MiB"})
    assert con.execute("select count(distinct text) from lines").fetchone() == (1_000_000,)
    yield con
    con.close()


def test_emptying_the_buffer_pool_gives_back_the_cached_blocks_and_puts_the_limit_back(read_warehouse):
    assert cached_mib(read_warehouse, "BASE_TABLE") > 30
    memory.empty_buffer_pool(read_warehouse)
    # what fits under the moment's limit may stay
    assert cached_mib(read_warehouse, "BASE_TABLE") <= memory.parse_bytes(memory.EMPTY_POOL_LIMIT) >> 20
    assert marts_data.duckdb_memory_limit_bytes(read_warehouse) == 256 << 20
    memory.empty_buffer_pool(read_warehouse, "300MiB")  # the limit the caller knows, rather than the one read
    assert marts_data.duckdb_memory_limit_bytes(read_warehouse) == 300 << 20


def test_an_in_memory_database_keeps_its_tables_in_the_pool_rather_than_writing_them_out(tmp_path):
    con = duckdb.connect(config={"memory_limit": "256MiB", "temp_directory": str(tmp_path / "spill")})
    con.execute("create table lines as select range as id, md5(range::varchar) as text from range(1000000)")
    before = cached_mib(con)
    memory.empty_buffer_pool(con)
    assert cached_mib(con) == before > 30
    (spilled,), = con.execute("select sum(temporary_storage_bytes) from duckdb_memory()").fetchall()
    assert spilled == 0 and not (tmp_path / "spill").exists()
    con.close()


def test_emptying_the_pool_of_a_closed_connection_raises_nothing(read_warehouse):
    """It also runs while a step's own error is on its way to the user."""
    read_warehouse.close()
    memory.empty_buffer_pool(read_warehouse)
