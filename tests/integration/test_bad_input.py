"""A bill file with bad rows: exactly those rows are quarantined, with file, member, line and reason;
the rest is loaded, and the counts add up in audit.loads and marts.data_quality."""

from decimal import Decimal

import dagster as dg
import duckdb

from pipelines.partitions import partition_key
from pipelines.runner import all_assets
from tests.fixtures.bill_files import good_row, member_csv, write_archive
from tests.integration.conftest import pipeline_resources

CYCLE = "2026-09"
KEY = "customerBill/customerBill_202609.tar.gz"


def _inbox(tmp_path, members: dict[str, bytes]):
    inbox = tmp_path / "inbox"
    write_archive(inbox / KEY, members)
    (inbox / "agreements").mkdir(parents=True)
    (inbox / "agreements" / "customer_discounts.csv").write_text(
        "customer_id,service_type_code,resource_type_code,discount_rate,valid_from,valid_to\n"
        "*,*,*,0.05,2026-01-01,\n", encoding="utf-8")
    return inbox


def _run(tmp_path, inbox):
    resources = pipeline_resources(tmp_path, inbox=inbox)
    result = dg.materialize(all_assets(), partition_key=partition_key(CYCLE), resources=resources)
    return result, duckdb.connect(resources["warehouse"].path, read_only=True)


def test_bad_rows_are_quarantined_exactly_and_the_rest_loads(tmp_path):
    first = member_csv([
        good_row(trade_id="A1"),
        good_row(trade_id="A2", customer_name="Multi\nline name"),   # a quoted newline shifts the line numbers
        good_row(trade_id="A3", amount_due="nine"),
        good_row(trade_id="A4"),
    ])
    second = member_csv([
        good_row(trade_id="B1", bill_cycle="2026-10"),
        good_row(trade_id="B2", official_amount="20", discount_amount="2", amount_due="18", credit_amount="18"),
        good_row(trade_id="B3", trade_time="2026-09-31 00:00:00"),
    ])
    result, con = _run(tmp_path, _inbox(tmp_path, {"customerBill_202609_0001.csv": first,
                                                   "customerBill_202609_0002.csv": second}))
    assert result.success
    quarantined = con.execute(
        """select object_key, member, line_number, record_number, rule_id, json_extract_string(raw_record, '$.trade_id')
           from audit.quarantine order by member, record_number""").fetchall()
    assert quarantined == [
        (KEY, "customerBill_202609_0001.csv", 5, 3, "FILE.PARSE.MONEY", "A3"),
        (KEY, "customerBill_202609_0002.csv", 2, 1, "BILL.CYCLE_MISMATCH", "B1"),
        (KEY, "customerBill_202609_0002.csv", 4, 3, "FILE.PARSE.TIME", "B3"),
    ]
    loaded = [r[0] for r in con.execute("select trade_id from staging.bill_line order by trade_id").fetchall()]
    assert loaded == ["A1", "A2", "A4", "B2"]
    quality = con.execute(
        """select member, rows_read, rows_loaded, rows_quarantined, status, first_error from marts.data_quality
           where source = 'customerBill' order by member""").fetchall()
    assert [q[:5] for q in quality] == [
        ("customerBill_202609_0001.csv", 4, 3, 1, "quarantined_rows"),
        ("customerBill_202609_0002.csv", 3, 1, 2, "quarantined_rows"),
    ]
    assert quality[0][5] == "record 3: amount_due: 'nine' – money value is not a decimal with at most 8 places"
    # the month's mart holds exactly the loaded lines: 9 + 9 + 9 + 18 due
    due = con.execute("select sum(amount_due) from marts.customer_monthly_expenditure").fetchone()[0]
    assert due == Decimal("45")


def test_a_corrupt_archive_is_rejected_whole_and_recorded(tmp_path):
    inbox = _inbox(tmp_path, {"customerBill_202609_0001.csv": member_csv([good_row()])})
    (inbox / KEY).write_bytes(b"\x1f\x8b\x08\x00this is not deflate data" * 4)
    result, con = _run(tmp_path, inbox)
    assert result.success  # bad input never crashes the run
    assert con.execute("select count(*) from staging.bill_line").fetchone()[0] == 0
    row = con.execute("select member, rows_read, status, first_error from marts.data_quality "
                      "where source = 'customerBill'").fetchone()
    assert row[:3] == (None, 0, "rejected")
    assert "not a readable gzip tar archive" in row[3]
    assert con.execute("select rule_id from audit.quarantine").fetchall() == [("FILE.CORRUPT_ARCHIVE",)]


def test_a_member_missing_a_required_column_is_rejected_and_others_load(tmp_path):
    broken = member_csv([good_row(trade_id="X1"), good_row(trade_id="X2")]).replace(b"Amount Due (USD)", b"Due")
    result, con = _run(tmp_path, _inbox(tmp_path, {
        "customerBill_202609_0001.csv": broken,
        "customerBill_202609_0002.csv": member_csv([good_row(trade_id="Y1")]),
    }))
    assert result.success
    rows = con.execute("select member, rows_read, rows_loaded, rows_quarantined, status from marts.data_quality "
                       "where source = 'customerBill' order by member").fetchall()
    assert rows == [("customerBill_202609_0001.csv", 2, 0, 2, "rejected"),
                    ("customerBill_202609_0002.csv", 1, 1, 0, "ok")]
    reason = con.execute("select reason from audit.quarantine").fetchone()[0]
    assert "required column(s) missing: amount_due" in reason


def test_the_same_line_twice_across_members_is_counted_once(tmp_path):
    result, con = _run(tmp_path, _inbox(tmp_path, {
        "customerBill_202609_0001.csv": member_csv([good_row(trade_id="A1"), good_row(trade_id="A2")]),
        "customerBill_202609_0002.csv": member_csv([good_row(trade_id="B1"), good_row(trade_id="A2")]),
    }))
    assert result.success
    assert con.execute("select count(*), sum(amount_due) from staging.bill_line").fetchone() == (3, Decimal("27"))
    row = con.execute("select member, line_number, record_number, rule_id, reason from audit.quarantine").fetchone()
    assert row == ("customerBill_202609_0002.csv", 3, 2, "FILE.DUPLICATE_LINE",
                   "the same line as customerBill_202609_0001.csv record 2: line delivered twice in the same file")
    rows = con.execute("select member, rows_read, rows_loaded, rows_quarantined from marts.data_quality "
                       "where source = 'customerBill' order by member").fetchall()
    assert rows == [("customerBill_202609_0001.csv", 2, 2, 0), ("customerBill_202609_0002.csv", 2, 1, 1)]


def test_a_duplicate_line_is_quarantined_at_its_physical_line(tmp_path):
    """Lines in a member after a field holding line breaks start further down than record + 1."""
    second = member_csv([good_row(trade_id="B1", resource_name="two\nlines"), good_row(trade_id="B2"),
                         good_row(trade_id="A1")])
    third = b"\xef\xbb\xbf" + member_csv([good_row(trade_id="C1", customer_name="x\ny\nz"), good_row(trade_id="B2")])
    result, con = _run(tmp_path, _inbox(tmp_path, {
        "customerBill_202609_0001.csv": member_csv([good_row(trade_id="A1")]),
        "customerBill_202609_0002.csv": second,
        "customerBill_202609_0003.csv": third,  # with a byte-order mark
    }))
    assert result.success
    rows = con.execute("select member, record_number, line_number from audit.quarantine "
                       "where rule_id = 'FILE.DUPLICATE_LINE' order by member, record_number").fetchall()
    assert rows == [("customerBill_202609_0002.csv", 3, 5), ("customerBill_202609_0003.csv", 2, 5)]
    assert con.execute("select count(*) from staging.bill_line").fetchone() == (4,)


def test_the_same_file_under_a_second_key_is_recorded_and_not_counted_twice(tmp_path):
    inbox = _inbox(tmp_path, {"customerBill_202609_0001.csv": member_csv([good_row()])})
    copy = inbox / "customerBill" / "customerBill_202609 (1).tar.gz"
    copy.write_bytes((inbox / KEY).read_bytes())
    result, con = _run(tmp_path, inbox)
    assert result.success
    assert con.execute("select count(*), sum(amount_due) from staging.bill_line").fetchone() == (1, Decimal("9"))
    row = con.execute("select object_key, status, rows_read, first_error from marts.data_quality "
                      "where status = 'ignored'").fetchone()
    assert row == ("customerBill/customerBill_202609 (1).tar.gz", "ignored", 0,
                   f"same content as {KEY} under another key; counted once, from {KEY}")


def test_an_empty_month_loads_nothing_and_the_report_says_so(tmp_path):
    result, con = _run(tmp_path, _inbox(tmp_path, {"customerBill_202609_0001.csv": member_csv([])}))
    assert result.success
    assert con.execute("select count(*) from staging.bill_line").fetchone() == (0,)
    assert con.execute("select rows_read, status from marts.data_quality where source = 'customerBill'"
                       ).fetchall() == [(0, "ok")]
    html = (tmp_path / "reports" / CYCLE / f"month_close_{CYCLE}.html").read_text(encoding="utf-8")
    assert "was delivered but holds no lines" in html
    assert f'<p class="headline">{CYCLE} is not ready to close: its bill file holds no lines.</p>' in html


def test_a_member_over_the_documented_row_count_loads_with_a_warning(tmp_path):
    import duckdb as _duckdb

    from pipelines.lib.landing import land
    from pipelines.lib.object_store import InboxObjectStore
    from pipelines.lib.staging import MemberLimits, stage_bill_delivery
    from pipelines.lib.warehouse import ensure_schema

    inbox = _inbox(tmp_path, {"customerBill_202609_0001.csv": member_csv(
        [good_row(trade_id=f"T{i}") for i in range(5)])})
    con = _duckdb.connect()
    ensure_schema(con)
    (delivery,) = land(con, InboxObjectStore(inbox), KEY, tmp_path / "landing")
    result = stage_bill_delivery(con, delivery, CYCLE, "load-1", MemberLimits(documented_rows=3))
    (member,) = result.members
    assert (member.rows_read, member.rows_loaded, member.status) == (5, 5, "warning")
    assert member.first_error == "member has 5 rows, more than the documented 3"
