"""Staging writes each parsed member to a spool folder beside the warehouse file and inserts them
with one statement; the folder is gone afterwards, and one left by a killed run is removed."""

from datetime import UTC, datetime

import duckdb

from pipelines.lib.landing import Delivery
from pipelines.lib.staging import SPOOL_PREFIX, MemberLimits, stage_bill_delivery
from pipelines.lib.warehouse import ensure_schema, transaction
from tests.fixtures.bill_files import good_row, member_csv, write_archive

CYCLE = "2026-09"


def _delivery(tmp_path, members):
    archive = write_archive(tmp_path / "customerBill_202609.tar.gz", members)
    return Delivery("customerBill/customerBill_202609.tar.gz", "etag-1", archive.stat().st_size, "sha-1",
                    archive, datetime(2026, 10, 5, tzinfo=UTC), newly_landed=True)


def test_members_are_spooled_inserted_once_and_the_spool_is_removed(tmp_path):
    warehouse = tmp_path / "warehouse" / "billrecon.duckdb"
    warehouse.parent.mkdir()
    leftover = warehouse.parent / f"{SPOOL_PREFIX}killed-run"
    leftover.mkdir()
    (leftover / "member-00000.parquet").write_bytes(b"half written")
    first = [good_row(trade_id=f"T-1-{n}") for n in range(3)]
    second = [good_row(trade_id=f"T-2-{n}") for n in range(2)] + [good_row(trade_id="T-bad", amount_due="x")]
    delivery = _delivery(tmp_path, {"customerBill_202609_0001.csv": member_csv(first),
                                    "customerBill_202609_0002.csv": member_csv(second)})
    con = duckdb.connect(str(warehouse))
    ensure_schema(con)
    with transaction(con):
        result = stage_bill_delivery(con, delivery, CYCLE, "load-1", MemberLimits())
    assert [(m.member, m.rows_read, m.rows_loaded, m.rows_quarantined) for m in result.members] == [
        ("customerBill_202609_0001.csv", 3, 3, 0), ("customerBill_202609_0002.csv", 3, 2, 1)]
    rows = con.execute("""select src_member, src_record, trade_id, src_object, src_sha256, load_id
                          from staging.bill_line order by src_member, src_record""").fetchall()
    assert rows == [
        ("customerBill_202609_0001.csv", 1, "T-1-0", delivery.object_key, "sha-1", "load-1"),
        ("customerBill_202609_0001.csv", 2, "T-1-1", delivery.object_key, "sha-1", "load-1"),
        ("customerBill_202609_0001.csv", 3, "T-1-2", delivery.object_key, "sha-1", "load-1"),
        ("customerBill_202609_0002.csv", 1, "T-2-0", delivery.object_key, "sha-1", "load-1"),
        ("customerBill_202609_0002.csv", 2, "T-2-1", delivery.object_key, "sha-1", "load-1"),
    ]
    assert con.execute("select current_setting('preserve_insertion_order')").fetchone()[0] is True
    con.close()
    assert sorted(p.name for p in warehouse.parent.iterdir()) == ["billrecon.duckdb"]
