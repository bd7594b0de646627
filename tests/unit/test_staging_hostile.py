"""Hostile deliveries staged into a DuckDB file on disk: members of one name, names that are not
UTF-8, long fields. Every distinct line is loaded or quarantined exactly once, and for every member
audit.loads says rows read = loaded + quarantined, matching staging and audit.quarantine."""

from datetime import datetime, timezone
from decimal import Decimal

import duckdb
import pytest

from pipelines.lib.landing import Delivery
from pipelines.lib.staging import MemberLimits, stage_bill_delivery
from pipelines.lib.warehouse import ensure_schema, transaction
from tests.fixtures.bill_files import good_row, member_csv, write_archive

CYCLE = "2026-09"
KEY = "customerBill/customerBill_202609.tar.gz"


@pytest.fixture
def stage(tmp_path):
    """Stage an archive of (name, bytes) members; returns the open warehouse connection."""
    warehouse = tmp_path / "warehouse" / "billrecon.duckdb"
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    ensure_schema(con)

    def run(members, limits=MemberLimits()):
        archive = write_archive(tmp_path / "customerBill_202609.tar.gz", members)
        delivery = Delivery(KEY, "etag-1", archive.stat().st_size, "sha-1", archive,
                            datetime(2026, 10, 5, tzinfo=timezone.utc), newly_landed=True)
        with transaction(con):
            stage_bill_delivery(con, delivery, CYCLE, "load-1", limits)
        return con

    yield run
    con.close()


def _counts_agree(con) -> list[tuple]:
    """Per member: (member, read, loaded, quarantined) from audit.loads, after checking that staging
    and audit.quarantine hold exactly those numbers of rows."""
    loads = con.execute("select member, rows_read, rows_loaded, rows_quarantined from audit.loads "
                        "order by loaded_at, member").fetchall()
    staged = dict(con.execute("select src_member, count(*) from staging.bill_line group by 1").fetchall())
    quarantined = dict(con.execute("select member, count(*) from audit.quarantine group by 1").fetchall())
    for member, read, loaded, rejected in loads:
        assert read == loaded + rejected
        assert staged.get(member, 0) == loaded, member
        assert quarantined.get(member, 0) == rejected, member
    return loads


def test_members_of_one_name_each_count_and_no_distinct_line_is_lost(stage):
    first = member_csv([good_row(trade_id="A1"), good_row(trade_id="A2")])
    # record 1 repeats the first member's record 1; record 2 is a distinct line at a record number
    # the first member also has (the distinct line was once deleted with the duplicate)
    second = member_csv([good_row(trade_id="A1"), good_row(trade_id="B2", amount_due="35.001",
                                                            official_amount="36.001", credit_amount="35.001")])
    con = stage([("customerBill_202609_0001.csv", first), ("customerBill_202609_0001.csv", second),
                 ("customerBill_202609_0001.csv", first)])
    assert _counts_agree(con) == [
        ("customerBill_202609_0001.csv", 2, 2, 0),
        ("customerBill_202609_0001.csv (#2)", 2, 1, 1),
        ("customerBill_202609_0001.csv (#3)", 2, 0, 2),
    ]
    lines = con.execute("select src_member, src_record, trade_id, amount_due from staging.bill_line "
                        "order by src_member, src_record").fetchall()
    assert lines == [
        ("customerBill_202609_0001.csv", 1, "A1", Decimal("9")),
        ("customerBill_202609_0001.csv", 2, "A2", Decimal("9")),
        ("customerBill_202609_0001.csv (#2)", 2, "B2", Decimal("35.001")),
    ]
    quarantined = con.execute("select member, line_number, record_number, rule_id, reason from audit.quarantine "
                              "order by member, record_number").fetchall()
    repeat = "line delivered twice in the same file"
    assert quarantined == [
        ("customerBill_202609_0001.csv (#2)", 2, 1, "FILE.DUPLICATE_LINE",
         f"the same line as customerBill_202609_0001.csv record 1: {repeat}"),
        ("customerBill_202609_0001.csv (#3)", 2, 1, "FILE.DUPLICATE_LINE",
         f"the same line as customerBill_202609_0001.csv record 1: {repeat}"),
        ("customerBill_202609_0001.csv (#3)", 3, 2, "FILE.DUPLICATE_LINE",
         f"the same line as customerBill_202609_0001.csv record 2: {repeat}"),
    ]
    status = con.execute("select member, status, first_error from audit.loads order by member").fetchall()
    assert status[0] == ("customerBill_202609_0001.csv", "ok", None)
    assert status[1][1] == "quarantined_rows"
    assert status[1][2].startswith("the archive holds more than one member named 'customerBill_202609_0001.csv'; "
                                   "this one is #2 in archive order")


def test_a_member_name_that_is_not_utf8_is_escaped_and_its_lines_load(stage, tmp_path):
    raw_name = "customerBill_202609_\udcff\udcfe.csv"  # the bytes 0xff 0xfe, as tarfile hands them over
    con = stage([(raw_name, member_csv([good_row(trade_id="N1")])),
                 ("customerBill_202609_0002.csv", member_csv([good_row(trade_id="N2")]))])
    assert _counts_agree(con) == [("customerBill_202609_\\xff\\xfe.csv", 1, 1, 0),
                                  ("customerBill_202609_0002.csv", 1, 1, 0)]
    (status, first_error), = con.execute("select status, first_error from audit.loads "
                                         "where member like '%xff%'").fetchall()
    assert (status, first_error) == ("warning", "the member name is not UTF-8 (its bytes are shown as \\x escapes)")
