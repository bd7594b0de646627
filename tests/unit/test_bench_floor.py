"""The floor loads every column typed, the GMT+8 time included (DuckDB 1.5.5's read_csv with a
'GMT%z' timestampformat loaded it as NULL, slowly)."""

import csv
import io
import tarfile
from datetime import UTC, datetime
from decimal import Decimal

import duckdb

from bench.floor import BILL_LINE_TYPES, load_archive


def _archive(path, rows):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([name for name, _ in BILL_LINE_TYPES])
    writer.writerows(rows)
    data = text.getvalue().encode("utf-8")
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("customerBill_202609_0001.csv")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _row(time_text: str, amount: str) -> list[str]:
    values = {"SMALLINT": "1", "TIMESTAMPTZ": time_text, "VARCHAR": "x"}
    return [amount if kind.startswith("DECIMAL") else values[kind] for _, kind in BILL_LINE_TYPES]


def test_the_floor_loads_the_gmt8_time_and_the_amounts_typed(tmp_path):
    _archive(tmp_path / "bill.tar.gz", [_row("2026-09-01 00:00:11 GMT+08:00", "1.23456789"),
                                        _row("2026-09-30 23:59:59 GMT+08:00", "-2.5")])
    result = load_archive(tmp_path / "bill.tar.gz", tmp_path / "floor.duckdb", tmp_path / "scratch")
    assert (result["rows"], result["members"]) == (2, 1)
    con = duckdb.connect(str(tmp_path / "floor.duckdb"), read_only=True)
    times = [row[0].astimezone(UTC) for row in con.execute("select trade_time from bill_line order by trade_time").fetchall()]
    assert times == [datetime(2026, 8, 31, 16, 0, 11, tzinfo=UTC), datetime(2026, 9, 30, 15, 59, 59, tzinfo=UTC)]
    assert con.execute("select sum(amount_due) from bill_line").fetchone() == (Decimal("-1.26543211"),)
    con.close()


def test_a_repeat_of_the_floor_starts_in_a_folder_emptied_before_its_time_starts(tmp_path):
    from bench.common import bill_key, work_dir, world_dir
    from bench.run import _measure

    archive = world_dir(tmp_path, "tiny") / bill_key()
    archive.parent.mkdir(parents=True)
    _archive(archive, [_row("2026-09-01 00:00:11 GMT+08:00", "1.5")])
    previous = work_dir(tmp_path, "tiny", "floor") / "floor.duckdb"
    previous.parent.mkdir(parents=True)
    previous.write_bytes(b"the previous repeat's table")
    measured = _measure("floor", tmp_path, "tiny", 1, "floor-1")
    assert measured["ok"], measured["error"]
    assert (measured["result"]["rows"], measured["result"]["found_previous_files"]) == (1, False)
