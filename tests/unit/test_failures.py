"""Which failures are expected, and the one line each gets; errors raised by the OS itself."""

import duckdb
import pytest

from pipelines.lib.failures import describe
from pipelines.lib.object_store import InboxObjectStore
from pipelines.lib.warehouse import NotAWarehouse, WarehouseBusy, check_warehouse_file, connect


def _raised(action) -> BaseException:
    with pytest.raises(Exception) as raised:
        action()
    return raised.value


def test_a_full_disk_says_what_to_do():
    # /dev/full answers every write with ENOSPC, as a full disk does; a failed write names no file
    def write():
        with open("/dev/full", "wb", buffering=0) as full:
            full.write(b"x")
    line = describe(_raised(write))
    assert line == ("no space left to write a file of the warehouse or the reports (No space left on device): "
                    "free space on that disk, or point --warehouse / --reports (BILLRECON_WAREHOUSE / "
                    "BILLRECON_REPORTS_DIR) at a disk with room, then run again (every step already committed "
                    "is whole)")


def test_a_full_disk_is_recognised_through_a_chain_of_causes_and_in_duckdb_messages():
    try:
        try:
            open("/dev/full", "wb", buffering=0).write(b"x")
        except OSError as exc:
            raise RuntimeError("rendering failed") from exc
    except RuntimeError as chained:
        assert describe(chained).startswith("no space left to write a file of the warehouse or the reports")
    duckdb_text = duckdb.IOException('IO Error: Could not write file "/data/wh/billrecon.duckdb.wal": '
                                     'No space left on device')
    assert describe(duckdb_text).startswith("no space left to write /data/wh/billrecon.duckdb.wal (No space left")


def test_a_file_where_a_folder_is_needed(tmp_path):
    (tmp_path / "reports").write_text("not a folder")
    line = describe(_raised(lambda: (tmp_path / "reports" / "2026-09").mkdir(parents=True, exist_ok=True)))
    assert line == (f"cannot use {tmp_path / 'reports' / '2026-09'} (Not a directory): a file stands where a folder "
                    "is needed, or the reverse; fix the path in --warehouse / --reports (BILLRECON_WAREHOUSE / "
                    "BILLRECON_REPORTS_DIR)")


def test_a_path_too_long_for_the_file_system_is_named_by_its_start(tmp_path):
    folder = tmp_path / ("x" * 300)  # a name longer than the 255 bytes Linux file systems allow
    line = describe(_raised(lambda: folder.mkdir(parents=True)))
    start = str(folder)[:80]
    assert line == (f"cannot use {start}… ({len(str(folder))} characters) (File name too long): the path, or a name in "
                    "it, is longer than the file system allows; give a shorter one in --warehouse / --reports "
                    "(BILLRECON_WAREHOUSE / BILLRECON_REPORTS_DIR)")


def test_a_bug_is_not_an_expected_failure():
    assert describe(KeyError("customer_id")) is None
    assert describe(duckdb.CatalogException("Table with name x does not exist")) is None


def test_a_file_that_is_not_a_duckdb_warehouse_is_refused_and_left_as_it_was(tmp_path):
    # DuckDB itself would open a short text file as an empty database and write over it
    text = tmp_path / "bills.csv"
    text.write_text("a,b\n1,2\n")
    refused = _raised(lambda: connect(text))
    assert isinstance(refused, NotAWarehouse)
    assert describe(refused) == (f"{text} is not a DuckDB warehouse file: check --warehouse (BILLRECON_WAREHOUSE); "
                                 "give a new path to start a warehouse there; the file was not changed")
    assert text.read_text() == "a,b\n1,2\n"
    refused = _raised(lambda: check_warehouse_file(tmp_path))
    assert str(refused).startswith(f"the warehouse {tmp_path} is a folder, not a DuckDB file")
    connect(tmp_path / "new.duckdb").close()
    check_warehouse_file(tmp_path / "new.duckdb")  # a real one passes


def test_the_warehouse_errors_say_their_own_line():
    busy = WarehouseBusy("the warehouse x is open for writing by another process; only one run may write at a time")
    assert describe(RuntimeError("step failed")) is None
    try:
        raise RuntimeError("step failed") from busy
    except RuntimeError as chained:
        assert describe(chained) == str(busy)


def test_a_damaged_warehouse_file_is_named_with_what_to_do(tmp_path):
    path = tmp_path / "billrecon.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select 1 as a")
    con.close()
    damaged = bytearray(path.read_bytes())
    damaged[12:20] = bytes(8)  # inside the checksummed main header, after the DUCK magic
    path.write_bytes(bytes(damaged))
    refused = _raised(lambda: connect(path))
    assert isinstance(refused, NotAWarehouse)
    assert describe(refused) == (
        f"the warehouse {path} is damaged and cannot be read (Corrupt database file: computed checksum "
        + str(refused).split("computed checksum ")[1].split(")")[0]
        + "); it was not changed: put back a copy (the published snapshot, as of the last complete run, or a "
        "backup), or move it aside and run each month again")
    assert path.read_bytes() == bytes(damaged)


def test_an_inbox_that_is_no_folder_names_where_it_was_set(tmp_path):
    # `billrecon run` refuses it up front; a run Dagster starts finds it when its landing step opens the inbox
    missing = tmp_path / "inbox"
    refused = _raised(lambda: InboxObjectStore(missing, setting="the inbox of [partner.files] in partners.toml"))
    assert describe(refused) == (f"the inbox of [partner.files] in partners.toml {missing} is not a folder: give the "
                                 "folder the files arrive in (the bucket's key layout), then run again")
