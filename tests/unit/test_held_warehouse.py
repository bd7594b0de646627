"""A run holds its working file open from its first step to its last (`HeldOpen`): the steps'
connections join it, their closes leave committed changes in the write-ahead log, the buffer pool is
emptied when the last step connection closes, and the file is checkpointed and let go at the end."""

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.lib.warehouse import HeldOpen, connect
from pipelines.resources import WarehouseResource
from tests.duckdb_memory import cached_mib

MEMORY_LIMIT = "512MiB"


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


@pytest.fixture
def lines(tmp_path) -> Path:
    """A warehouse file with a table of 2 million rows of text, checkpointed and closed."""
    path = tmp_path / "billrecon.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table lines as select range as id, md5(range::varchar) || md5((-range)::varchar) as text from range(2000000)")
    con.close()
    return path


def _read_everything(con: duckdb.DuckDBPyConnection) -> int:
    (count,), = con.execute("select count(distinct text) from lines").fetchall()
    return count


def test_the_buffer_pool_is_emptied_when_the_last_step_connection_closes(lines):
    held = HeldOpen(lines, memory_limit=MEMORY_LIMIT)
    try:
        with held.step():
            outer = connect(lines, memory_limit=MEMORY_LIMIT)
            with held.step():
                inner = connect(lines, memory_limit=MEMORY_LIMIT)
                assert _read_everything(inner) == 2_000_000
                inner.close()
            assert cached_mib(outer) > 50  # another step connection is still open: nothing evicted yet
            outer.close()
        probe = connect(lines, memory_limit=MEMORY_LIMIT)
        assert cached_mib(probe) < 20
        (limit,), = probe.execute("select current_setting('memory_limit')").fetchall()
        assert limit == "512.0 MiB"  # the run's limit is back after the moment's lower one
        probe.close()
    finally:
        held.close()


def test_a_step_close_leaves_the_changes_in_the_log_until_the_held_file_is_closed(lines):
    held = HeldOpen(lines, memory_limit=MEMORY_LIMIT)
    with held.step():
        step = connect(lines, memory_limit=MEMORY_LIMIT)
        step.execute("create table facts as select 42 as answer")
        step.close()
    assert _wal(lines).stat().st_size > 0  # no checkpoint on the step's close: the database stayed open
    held.close()
    assert not _wal(lines).exists()  # closing the held file checkpointed it
    reader = duckdb.connect(str(lines), read_only=True)
    assert reader.execute("select answer from facts").fetchall() == [(42,)]
    reader.close()


def test_another_database_of_the_process_attaches_the_file_only_once_it_is_released(lines):
    held = HeldOpen(lines, memory_limit=MEMORY_LIMIT)
    other = duckdb.connect()
    with pytest.raises(duckdb.BinderException, match="already attached"):
        other.execute(f"attach '{lines}' as work (read_only)")
    held.close()
    other.execute(f"attach '{lines}' as work (read_only)")
    assert other.execute("select count(*) from work.lines").fetchall() == [(2_000_000,)]
    other.close()


def test_a_run_joins_the_held_file_and_checkpoints_it_when_it_ends(tmp_path):
    path = tmp_path / "billrecon.duckdb"
    seen = {}

    @dg.asset
    def first(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as con:
            con.execute("create table staging.facts as select 7 as answer")

    @dg.asset(deps=[first])
    def second(warehouse: WarehouseResource) -> None:
        seen["log after the first step"] = _wal(path).stat().st_size
        with warehouse.connect() as con:
            seen["answer"] = con.execute("select answer from staging.facts").fetchall()
        warehouse.release_file()  # as the lake publish does: the file checkpointed, another database may attach it
        seen["log once released"] = _wal(path).exists()
        other = duckdb.connect()
        other.execute(f"attach '{path}' as work (read_only)")
        seen["attached"] = other.execute("select answer from work.staging.facts").fetchall()
        other.close()

    result = dg.materialize([first, second], resources={"warehouse": WarehouseResource(path=str(path))})
    assert result.success
    assert seen["log after the first step"] > 0
    assert seen == {"log after the first step": seen["log after the first step"], "answer": [(7,)],
                    "log once released": False, "attached": [(7,)]}
    assert not _wal(path).exists()
    reader = duckdb.connect(str(path), read_only=True)  # the run let the file go
    assert reader.execute("select answer from staging.facts").fetchall() == [(7,)]
    reader.close()


def test_a_step_error_reaches_the_caller_unchanged_when_the_pool_cannot_be_emptied(lines):
    held = HeldOpen(lines, memory_limit=MEMORY_LIMIT)
    held._con.close()  # as if DuckDB had given up on the database during the step
    with pytest.raises(ValueError, match="the step's own error"), held.step():
        raise ValueError("the step's own error")
    held.close()
