"""Hostile deliveries staged into a DuckDB file on disk: members of one name, names that are not
UTF-8, long fields. Every distinct line is loaded or quarantined exactly once, and for every member
audit.loads says rows read = loaded + quarantined, matching staging and audit.quarantine."""

from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pytest

from pipelines.lib.landing import Delivery
from pipelines.lib.staging import MemberLimits, stage_bill_delivery
from pipelines.lib.warehouse import ensure_schema, transaction
from schemas.rules import rule
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

    def run(members, limits: MemberLimits | None = None):
        limits = limits or MemberLimits()
        archive = write_archive(tmp_path / "customerBill_202609.tar.gz", members)
        delivery = Delivery(KEY, "etag-1", archive.stat().st_size, "sha-1", archive,
                            datetime(2026, 10, 5, tzinfo=UTC), newly_landed=True)
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
    assert status[1][2] == (
        "the archive holds more than one member named 'customerBill_202609_0001.csv'; this one is recorded as "
        "'customerBill_202609_0001.csv (#2)': its lines load, and a line identical to one already delivered is "
        "quarantined as a duplicate")


def test_a_member_name_that_is_not_utf8_is_escaped_and_its_lines_load(stage, tmp_path):
    raw_name = "customerBill_202609_\udcff\udcfe.csv"  # the bytes 0xff 0xfe, as tarfile hands them over
    con = stage([(raw_name, member_csv([good_row(trade_id="N1")])),
                 ("customerBill_202609_0002.csv", member_csv([good_row(trade_id="N2")]))])
    assert _counts_agree(con) == [("customerBill_202609_\\xff\\xfe.csv", 1, 1, 0),
                                  ("customerBill_202609_0002.csv", 1, 1, 0)]
    (status, first_error), = con.execute("select status, first_error from audit.loads "
                                         "where member like '%xff%'").fetchall()
    assert (status, first_error) == ("warning", "the member name is not UTF-8 (its bytes are shown as \\x escapes)")


def _bomb_archive(path, bomb_bytes: int, trailing_bytes: int, good: bytes):
    """A small .tar.gz whose first member inflates to `bomb_bytes` of zeros, then a good member, the
    end of the archive and `trailing_bytes` more zeros; written compressed, never held inflated."""
    import tarfile
    import zlib

    def header(name: str, size: int) -> bytes:
        info = tarfile.TarInfo(name)
        info.size = size
        return info.tobuf(tarfile.GNU_FORMAT)

    zeros = bytes(1 << 24)
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        out.write(deflate.compress(header("customerBill_202609_0001.csv", bomb_bytes)))
        for _ in range(bomb_bytes // len(zeros)):
            out.write(deflate.compress(zeros))
        out.write(deflate.compress(header("customerBill_202609_0002.csv", len(good)) + good
                                   + bytes(-len(good) % 512)))
        for _ in range(trailing_bytes // len(zeros)):  # end-of-archive blocks, and far more of them
            out.write(deflate.compress(zeros))
        out.write(deflate.flush())
    return path


_MEASURE_STAGING = """
import json, resource, sys
from datetime import date, datetime, timezone
from pathlib import Path
import duckdb
from pipelines.lib.landing import Delivery
from pipelines.lib.staging import MemberLimits, stage_bill_delivery
from pipelines.lib.warehouse import ensure_schema, transaction
from schemas.rules import rule

archive, warehouse, limit = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
con = duckdb.connect(warehouse)
ensure_schema(con)
delivery = Delivery("customerBill/customerBill_202609.tar.gz", "etag-1", archive.stat().st_size, "sha-1",
                    archive, datetime(2026, 10, 5, tzinfo=timezone.utc), newly_landed=True)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with transaction(con):
    stage_bill_delivery(con, delivery, "2026-09", "load-1", MemberLimits(max_bytes=limit))
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
loads = con.execute("select member, rows_read, rows_loaded, status, first_error from audit.loads order by member")
print(json.dumps({"grown_kib": grown, "loads": loads.fetchall(),
                  "rules": con.execute("select member, rule_id from audit.quarantine").fetchall()}))
"""


@pytest.mark.slow
def test_an_inflate_bomb_is_refused_while_streaming_with_memory_near_the_member_limit(tmp_path):
    import json
    import subprocess
    import sys

    limit = 16 << 20
    good = member_csv([good_row(trade_id="G1")])
    # 768 MiB of zeros in 0.8 MB: before, one zlib call inflated the whole bomb into memory
    archive = _bomb_archive(tmp_path / "bomb.tar.gz", bomb_bytes=512 << 20, trailing_bytes=256 << 20, good=good)
    assert archive.stat().st_size < 1 << 20
    done = subprocess.run([sys.executable, "-c", _MEASURE_STAGING, str(archive), str(tmp_path / "wh.duckdb"),
                           str(limit)], capture_output=True, text=True, timeout=300, check=True)
    measured = json.loads(done.stdout)
    assert measured["loads"] == [
        ["customerBill_202609_0001.csv", 0, 0, "rejected", f"member is {512 << 20} bytes, more than the {limit} allowed"
         f" — {rule('FILE.MEMBER_TOO_LARGE').action}"],
        ["customerBill_202609_0002.csv", 1, 1, "ok", None],
    ]
    assert measured["rules"] == [["customerBill_202609_0001.csv", "FILE.MEMBER_TOO_LARGE"]]
    # what staging added to the peak: about 45 MiB of thread pools and buffers that any archive
    # costs, two inflated chunks of 1 MiB, the small member; not the bomb (1022 MiB before, when
    # one zlib call inflated it whole)
    assert measured["grown_kib"] * 1024 < limit + (80 << 20), measured["grown_kib"]


def test_lines_of_year_1_and_9999_load_as_delivered_with_a_finding_each(stage):
    con = stage([("customerBill_202609_0001.csv", member_csv([
        good_row(trade_id="T1"),
        good_row(trade_id="Y1", trade_time="0001-01-01 09:00:00 GMT+08:00"),
        good_row(trade_id="Y9999", trade_time="9999-12-31 23:59:59 GMT+08:00"),
    ]))])
    assert _counts_agree(con) == [("customerBill_202609_0001.csv", 3, 3, 0)]
    assert con.execute("select trade_id, strftime(trade_time at time zone 'UTC', '%Y-%m-%d %H:%M:%S'), "
                       "trade_date_local from staging.bill_line order by src_record").fetchall() == [
        ("T1", "2026-09-03 02:00:00", date(2026, 9, 3)),
        ("Y1", "0001-01-01 01:00:00", date(1, 1, 1)),
        ("Y9999", "9999-12-31 15:59:59", date(9999, 12, 31)),
    ]
    assert con.execute("select record_number, line_number, rule_id, severity, reference from audit.findings "
                       "order by record_number").fetchall() == [
        (2, 3, "BILL.TRADE_TIME_OUTSIDE_CYCLE", "warning", "Y1"),
        (3, 4, "BILL.TRADE_TIME_OUTSIDE_CYCLE", "warning", "Y9999"),
    ]
    assert con.execute("select status, findings_count from audit.loads").fetchall() == [("warning", 2)]


def test_a_plain_csv_object_over_the_member_limit_is_refused_unread(tmp_path):
    from pipelines.lib.staging import Dataset, stage_csv_object
    from schemas.customer_discount import CustomerDiscountModel
    from schemas.datasets import CUSTOMER_DISCOUNT

    agreements = tmp_path / "customer_discounts.csv"
    agreements.write_text("customer_id,service_type_code,resource_type_code,discount_rate,valid_from,valid_to\n"
                          + "*,*,*,0.05,2026-01-01,\n" * 10, encoding="utf-8")
    delivery = Delivery("agreements/customer_discounts.csv", "etag-1", agreements.stat().st_size, "sha-1",
                        agreements, datetime(2026, 10, 5, tzinfo=UTC), newly_landed=True)
    con = duckdb.connect()
    ensure_schema(con)
    dataset = Dataset("agreements", CUSTOMER_DISCOUNT, CustomerDiscountModel, "staging.customer_discount")
    (outcome,) = stage_csv_object(con, delivery, dataset, None, "load-1", MemberLimits(max_bytes=100)).members
    size = agreements.stat().st_size
    assert (outcome.rows_read, outcome.status, outcome.first_error) == (
        0, "rejected", f"member is {size} bytes, more than the 100 allowed — {rule('FILE.MEMBER_TOO_LARGE').action}")
    assert con.execute("select rule_id from audit.quarantine").fetchall() == [("FILE.MEMBER_TOO_LARGE",)]
    assert con.execute("select count(*) from staging.customer_discount").fetchone() == (0,)


def test_a_rejected_members_message_says_its_cause_and_its_rules_action_once(stage):
    good = member_csv([good_row(trade_id="G1")])
    lines = good.decode().splitlines()
    con = stage([
        ("customerBill_202609_0001.csv", good.decode().encode("utf-16")),
        ("customerBill_202609_0002.csv", good.decode().replace(",", ";").encode()),
        ("customerBill_202609_0003.csv", ("\n".join([lines[0] + ",Customer ID", lines[1] + ",x"]) + "\n").encode()),
        ("customerBill_202609_0004.csv", good.replace(b"Acme", "Acmé".encode("latin-1"))),
    ])
    assert con.execute("select member, rule_id, reason from audit.quarantine order by member").fetchall() == [
        ("customerBill_202609_0001.csv", "FILE.ENCODING",
         "the member is UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8 — re-export the file as UTF-8"),
        ("customerBill_202609_0002.csv", "FILE.WRONG_DELIMITER",
         "the header is separated by semicolons; billrecon reads comma-separated files — "
         "re-export the file with commas"),
        ("customerBill_202609_0003.csv", "FILE.DUPLICATE_HEADER",
         "column 'Customer ID' appears twice in the header (positions 2 and 42); it is ambiguous which one holds "
         "the data — re-export the file"),
        ("customerBill_202609_0004.csv", "FILE.ENCODING",
         "not UTF-8 text (byte 675: invalid continuation byte) and not recognisably GBK — re-export the file as UTF-8"),
    ]


def test_a_member_refused_unread_says_its_cause_and_what_to_do_in_one_line(stage):
    good = member_csv([good_row(trade_id="G1")])
    large = member_csv([good_row(trade_id="G2"), good_row(trade_id="G3")])
    con = stage([("customerBill_202609_0001.csv", good), ("../customerBill_202609_0002.csv", good),
                 ("notes.txt", b"hello"), ("customerBill_202609_0003.csv", large)],
                MemberLimits(max_bytes=len(good)))
    refused = [
        ("../customerBill_202609_0002.csv", "FILE.UNSAFE_MEMBER_PATH",
         "member path '../customerBill_202609_0002.csv' is absolute or leaves the archive — its lines are not "
         "loaded; ask HUAWEI CLOUD to re-deliver the file with plain member names"),
        ("customerBill_202609_0003.csv", "FILE.MEMBER_TOO_LARGE",
         f"member is {len(large)} bytes, more than the {len(good)} allowed — raise BILLRECON_MAX_MEMBER_BYTES if "
         "the member is genuine and run the month again, or ask its sender to re-deliver the file"),
        ("notes.txt", "FILE.NOT_CSV",
         "member 'notes.txt' is not a .csv file — nothing to do if it holds no lines (a folder, a note); otherwise "
         "ask HUAWEI CLOUD to re-deliver the file with its lines in .csv members"),
    ]
    assert con.execute("select member, rule_id, reason from audit.quarantine order by member").fetchall() == refused
    assert con.execute("select member, rows_read, status, first_error from audit.loads where status = 'rejected' "
                       "order by member").fetchall() == [(member, 0, "rejected", reason) for member, _, reason in refused]
    assert con.execute("select trade_id from staging.bill_line").fetchall() == [("G1",)]


def test_a_broken_archive_says_its_cause_and_what_to_do_in_one_line(stage):
    con = stage([])  # a tar without a member
    message = ("not a readable gzip tar archive (EOFError: the archive holds no member) — "
               "ask HUAWEI CLOUD for a re-delivery")
    assert con.execute("select member, rule_id, reason from audit.quarantine").fetchall() == [
        (None, "FILE.CORRUPT_ARCHIVE", message)]
    assert con.execute("select member, status, first_error from audit.loads").fetchall() == [
        (None, "rejected", message)]


def test_lines_whose_hashes_collide_are_compared_in_full_and_only_identical_ones_quarantined(stage, monkeypatch):
    """The line hash only picks the lines to compare: two different lines with the same hash both load."""
    import polars as pl

    from pipelines.lib.staging import duplicates

    def one_hash_for_all(rows, content):
        return pl.DataFrame({"src_record": rows["src_record"], "line_hash": pl.Series([7] * rows.height, dtype=pl.UInt64)})

    monkeypatch.setattr(duplicates, "line_hashes", one_hash_for_all)
    monkeypatch.setattr("pipelines.lib.staging.members.line_hashes", one_hash_for_all)
    con = stage([("customerBill_202609_0001.csv", member_csv([good_row(trade_id="A1"), good_row(trade_id="A2")])),
                 ("customerBill_202609_0002.csv", member_csv([good_row(trade_id="A3"), good_row(trade_id="A1")]))])
    assert _counts_agree(con) == [("customerBill_202609_0001.csv", 2, 2, 0), ("customerBill_202609_0002.csv", 2, 1, 1)]
    assert con.execute("select member, record_number from audit.quarantine").fetchall() == [
        ("customerBill_202609_0002.csv", 2)]

