"""Where DuckDB spills: a warehouse file read by several processes at once, each spilling to a folder of
its own (pipelines/lib/warehouse.py, use_own_spill_directory). DuckDB's default, `<file>.tmp` under
fixed file names, let two readers overwrite each other's spilled blocks: segmentation faults."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.lib import warehouse
from tests.spilling import SMALL_BUDGET, SPILLING_QUERY, assert_each_spilled_on_its_own

ROOT = Path(__file__).parents[2]

READER = """
import sys, time
from pipelines.lib.warehouse import connect
from tests.spilling import print_spilled
con = connect(sys.argv[1], read_only=True)
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
print_spilled(con)
"""


def test_two_processes_reading_one_warehouse_file_spill_each_to_a_folder_of_its_own(tmp_path):
    path = tmp_path / "billrecon.duckdb"
    warehouse.connect(path).close()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "BILLRECON_MEMORY_LIMIT": SMALL_BUDGET}
    start = str(time.time() + 2)  # both past their imports, then spilling at the same moment
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(path), start], cwd=tmp_path, env=environment,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    assert_each_spilled_on_its_own(readers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["billrecon.duckdb"]  # no billrecon.duckdb.tmp


def test_a_second_connection_to_the_same_file_keeps_the_process_s_folder(tmp_path):
    """In one process DuckDB shares the database of a file between its connections, and refuses a new
    spill folder once the first has been used."""
    path = tmp_path / "billrecon.duckdb"
    warehouse.connect(path).close()
    first = warehouse.connect(path, read_only=True, memory_limit="64MiB")
    try:
        first.execute("set threads = 1")
        first.execute(SPILLING_QUERY).fetchall()  # the folder is in use
        second = warehouse.connect(path, read_only=True, memory_limit="64MiB")
        (folder,), = second.execute("select current_setting('temp_directory')").fetchall()
        (own,), = first.execute("select current_setting('temp_directory')").fetchall()
        assert folder == own and Path(own).name.startswith(warehouse.SPILL_PREFIX)
        second.close()
    finally:
        first.close()


def test_the_writer_keeps_duckdb_s_folder_beside_its_file(tmp_path):
    """One process writes a file at a time: its spill folder beside the file is its own."""
    con = warehouse.connect(tmp_path / "billrecon.duckdb")
    try:
        (folder,), = con.execute("select current_setting('temp_directory')").fetchall()
        assert folder == str(tmp_path / "billrecon.duckdb") + ".tmp"
    finally:
        con.close()


def test_a_spill_folder_left_by_a_killed_process_is_removed_by_the_next_connection(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    abandoned = tmp_path / f"{warehouse.SPILL_PREFIX}{int(ended.stdout)}-0123456789ab"
    in_use = tmp_path / f"{warehouse.SPILL_PREFIX}{os.getpid()}-ba9876543210"
    for folder in (abandoned, in_use):
        folder.mkdir()
        (folder / "duckdb_temp_storage_DEFAULT-0.tmp").write_bytes(b"\0" * 4096)
    con = duckdb.connect()
    try:
        warehouse.use_own_spill_directory(con)
        (folder,), = con.execute("select current_setting('temp_directory')").fetchall()
    finally:
        con.close()
    assert not abandoned.exists() and in_use.exists()
    assert Path(folder).parent == tmp_path and Path(folder).name.startswith(f"{warehouse.SPILL_PREFIX}{os.getpid()}-")
