"""The run's memory budget (BILLRECON_MEMORY_LIMIT) and what is derived from it.

The budget is for the whole process. DuckDB's `memory_limit` bounds its buffer manager only; the
same process also holds Python, Dagster, polars and Arrow (the report pack's batches, the Parquet
writer's row group), so DuckDB gets a share of the budget, not all of it. The report pack sorts the
month's bill lines one customer range at a time, each range sized from DuckDB's share (`lines_per_range`).
DuckDB keeps the blocks a query read cached up to its limit, so a phase that needs the memory
for polars and Arrow next empties DuckDB's pool first (`empty_buffer_pool`). The figures behind the
shares are in bench/README.md.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping

import duckdb

MEMORY_VARIABLE = "BILLRECON_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "2GiB"
# The smallest budget a run is allowed: the integration tests' small world closes its month with 64 MiB
# (DuckDB's 32 MiB) and not with 32 MiB (a step's 30.5 MiB block); this leaves room for larger months
MIN_MEMORY_LIMIT = "256MiB"
# DuckDB's buffer manager gets this share of the budget; the rest is Python, polars and Arrow
DUCKDB_SHARE = 0.5
# What DuckDB holds per bill line while sorting a customer range of marts.customer_bill_line
# (about 2.2 KB measured), with room to spare
SORTED_LINE_BYTES = 4096
# Each range is read from its own scratch file (reports/pack_lines.py): a larger range would only
# hold more memory, measured no faster (bench/README.md)
MAX_LINES_PER_RANGE = 1_000_000
MIN_LINES_PER_RANGE = 50_000
# DuckDB's memory limit for a moment, to make it give back the blocks it keeps cached
EMPTY_POOL_LIMIT = "16MiB"

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_bytes(text: str) -> int:
    """Bytes of a size such as "2GiB", "1.5 GB" or "953.6 MiB" (DuckDB's own format); a ValueError
    naming the accepted units otherwise."""
    match = _SIZE.fullmatch(str(text))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"{text!r} is not a memory size: give a number with one of the units "
                         "KiB, MiB, GiB, TiB, KB, MB, GB, TB (e.g. 2GiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def budget_problem(text: str) -> str | None:
    """What is wrong with a budget, or None for one a run can work in."""
    try:
        size = parse_bytes(text)
    except ValueError as exc:
        return str(exc)
    if size < parse_bytes(MIN_MEMORY_LIMIT):
        return f"{text!r} is less than {MIN_MEMORY_LIMIT}, the smallest budget a run works in (DuckDB gets half of it)"
    return None


def duckdb_memory_limit(budget: str) -> str:
    """DuckDB's `memory_limit` for a process budget of `budget` (whole MiB)."""
    return f"{int(parse_bytes(budget) * DUCKDB_SHARE) >> 20}MiB"


def process_duckdb_memory_limit(environ: Mapping[str, str] | None = None) -> str:
    """DuckDB's share of this process's budget (BILLRECON_MEMORY_LIMIT, else the default), for the
    connections a run's warehouse resource does not open (the command's summaries, the lake publish):
    without it DuckDB takes 80 % of the machine's memory. A value that is no size falls back to the
    default here; the run's resource refuses it in one line."""
    environ = os.environ if environ is None else environ
    try:
        return duckdb_memory_limit(environ.get(MEMORY_VARIABLE) or DEFAULT_MEMORY_LIMIT)
    except ValueError:
        return duckdb_memory_limit(DEFAULT_MEMORY_LIMIT)


def lines_per_range(duckdb_limit_bytes: int) -> int:
    """Bill lines per sorted customer range for DuckDB's memory limit."""
    return max(MIN_LINES_PER_RANGE, min(MAX_LINES_PER_RANGE, duckdb_limit_bytes // SORTED_LINE_BYTES))


def empty_buffer_pool(con: duckdb.DuckDBPyConnection, memory_limit: str | None = None) -> None:
    """Make DuckDB give back the blocks its buffer pool keeps cached: after a query that read much, it
    holds them up to its memory limit, and the process's next phase (polars, Arrow) comes on top. The
    limit is lowered for a moment, which evicts them, then put back: `memory_limit`, or the one the
    connection had.

    An in-memory database is left alone: its tables live in the pool, and a lower limit would write
    them out to temporary files. Never raises: it also runs as a step's connection closes on the
    step's own error, which must reach the user unchanged. A pool that cannot be emptied (buffers
    still pinned) stays cached; a database DuckDB gave up on fails the next query with its own error."""
    with contextlib.suppress(duckdb.Error):
        (path, limit), = con.execute(
            "select path, current_setting('memory_limit') from duckdb_databases() "
            "where database_name = current_database()").fetchall()
        if path is None:
            return
        try:
            con.execute(f"set memory_limit = '{EMPTY_POOL_LIMIT}'")
        finally:
            con.execute(f"set memory_limit = '{memory_limit or limit}'")
