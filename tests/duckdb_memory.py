"""What DuckDB's buffer pool holds, for the tests of emptying it (schemas.memory.empty_buffer_pool)."""

from __future__ import annotations

import duckdb


def cached_mib(con: duckdb.DuckDBPyConnection, tag: str | None = None) -> float:
    """MiB the database of `con` holds in its buffer pool: all of it, or the blocks of one tag of
    `duckdb_memory()` (BASE_TABLE: the tables' blocks)."""
    (used,), = con.execute("select coalesce(sum(memory_usage_bytes), 0) / 1048576 from duckdb_memory() "
                           "where tag = coalesce(?, tag)", [tag]).fetchall()
    return float(used)
