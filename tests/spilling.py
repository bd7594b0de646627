"""A query that spills to disk under a small DuckDB memory budget, for the tests of where connections
spill (pipelines/lib/warehouse.py, use_own_spill_directory)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import duckdb

from pipelines.lib.warehouse import SPILL_PREFIX

# each line's position in an order by a text of 92 bytes: 1.5 million lines are ~140 MB to sort, far
# above a 64 MiB DuckDB budget, so the window spills its sorted runs to disk
SPILL_LINES = 1_500_000
SPILLING_QUERY = f"""select sum(r * position) from (
    select r, row_number() over (order by text, r) as position
    from (select range as r, md5(range::varchar) || repeat('x', 60) as text from range({SPILL_LINES})))"""
# BILLRECON_MEMORY_LIMIT for the spilling process: DuckDB gets half, 64 MiB
SMALL_BUDGET = "128MiB"


def print_spilled(con: duckdb.DuckDBPyConnection) -> None:
    """Run SPILLING_QUERY on one thread (the same plan, and the same spilled blocks, in every process) and
    print the JSON line `assert_each_spilled_on_its_own` reads: the result and the connection's spill folder."""
    con.execute("set threads = 1")
    (total,), = con.execute(SPILLING_QUERY).fetchall()
    (folder,), = con.execute("select current_setting('temp_directory')").fetchall()
    print(json.dumps({"sum": int(total), "temp_directory": folder}), flush=True)


def assert_each_spilled_on_its_own(processes: list[subprocess.Popen]) -> None:
    """Each process (started with pipes, text mode) printed one JSON line, {"sum", "temp_directory"}, after
    SPILLING_QUERY: every one exited 0 with the exact result, each spilled to a folder of its own in the
    system's temporary directory, and the folder is gone (DuckDB removes it on close)."""
    results = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    (expected,), = duckdb.connect().execute(SPILLING_QUERY).fetchall()
    assert [result["sum"] for result in results] == [int(expected)] * len(processes)
    folders = [Path(result["temp_directory"]) for result in results]
    assert len(set(folders)) == len(folders)
    assert all(folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith(SPILL_PREFIX)
               for folder in folders)
    assert not any(folder.exists() for folder in folders)
