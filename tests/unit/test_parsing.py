"""Parsing and validation of bill CSV members: exactly the bad rows are quarantined, with reasons."""

from decimal import Decimal

import polars as pl
import pytest

from pipelines.lib.findings import bill_line_findings
from pipelines.lib.parsing import MemberRejected, parse_member, physical_line_numbers
from schemas.bill_line import BillLineModel
from schemas.customer_discount import CustomerDiscountModel
from schemas.datasets import BILL_LINE, CUSTOMER_DISCOUNT, INCENTIVE_RATE
from schemas.incentives import IncentiveRateModel
from tests.fixtures.bill_files import good_row, member_csv


def parse(data: bytes, cycle: str = "2026-09"):
    parsed, _ = parse_member(data, BILL_LINE, BillLineModel, cycle)
    return parsed


def test_good_rows_are_typed_exactly():
    parsed = parse(member_csv([good_row(), good_row(trade_id="T2", official_amount="0.12345678",
                                                    discount_amount="0", amount_due="0.12345678",
                                                    credit_amount="0.12345678")]))
    assert parsed.rows_read == 2 and parsed.loaded.height == 2 and parsed.quarantined.height == 0
    assert parsed.loaded["amount_due"].to_list() == [Decimal("9"), Decimal("0.12345678")]
    assert parsed.loaded["customer_name"][0] == 'Acme, "Blue" Ltd'
    # 10:00 GMT+8 is 02:00 UTC; the local trade date is kept for the agreement lookup
    assert str(parsed.loaded["trade_time"][0]) == "2026-09-03 02:00:00+00:00"
    assert str(parsed.loaded["trade_date_local"][0]) == "2026-09-03"


def test_exactly_the_bad_rows_are_quarantined_with_their_rule():
    rows = [
        good_row(trade_id="ok-1"),
        good_row(trade_id="bad-money", official_amount="12,50"),
        good_row(trade_id="over-precise", amount_due="9.123456789"),
        good_row(trade_id="bad-date", trade_time="2026-02-30 10:00:00 GMT+08:00"),
        good_row(trade_id="other-cycle", bill_cycle="2026-08"),
        good_row(trade_id="bad-type", bill_type="Purchase"),
        good_row(trade_id="no-customer", customer_id=""),
        good_row(trade_id="bad-mode", billing_mode="9"),
        good_row(trade_id="ok-2"),
        # full-width digits: a digit to a regex \d, but no number to a cast (it once loaded as empty)
        good_row(trade_id="full-width", official_amount="１０"),
    ]
    parsed = parse(member_csv(rows))
    assert parsed.rows_read == 10
    assert parsed.loaded["trade_id"].to_list() == ["ok-1", "ok-2"]
    got = dict(zip(parsed.quarantined["record_number"], parsed.quarantined["rule_id"]))
    assert got == {2: "FILE.PARSE.MONEY", 3: "FILE.PARSE.MONEY", 4: "FILE.PARSE.TIME",
                   5: "BILL.CYCLE_MISMATCH", 6: "FILE.ENUM", 7: "FILE.REQUIRED", 8: "FILE.ENUM",
                   10: "FILE.PARSE.MONEY"}
    reasons = dict(zip(parsed.quarantined["record_number"], parsed.quarantined["reason"]))
    assert reasons[2].startswith("official_amount: '12,50'")
    assert '"trade_id":"bad-money"' in parsed.quarantined["raw_record"][0]
    assert parsed.rows_read == parsed.loaded.height + parsed.quarantined.height


def test_chinese_headers_and_values_map_to_canonical_names():
    parsed = parse(member_csv([good_row(bill_type="退款", official_amount="-10", discount_amount="-1",
                                        amount_due="-9", credit_amount="-9", original_order_id="O1",
                                        order_type="退订")], language="zh"))
    assert parsed.loaded["bill_type"].to_list() == ["Refund"]
    assert parsed.loaded["order_type"].to_list() == ["Unsubscribe"]


def test_missing_required_column_rejects_the_member():
    rows = [good_row()]
    headers = ["Billing Cycle", "Customer ID"]
    with pytest.raises(MemberRejected) as caught:
        parse(member_csv(rows, headers=headers + [f"x{i}" for i in range(39)]))
    assert caught.value.rule_id == "FILE.MISSING_COLUMN"
    assert "amount_due" in str(caught.value)


def test_unknown_extra_column_is_kept_as_json():
    data = member_csv([good_row()]).decode().splitlines()
    data = [data[0] + ",Cost Center", data[1] + ",CC-42"]
    parsed = parse(("\n".join(data) + "\n").encode())
    assert parsed.loaded["extra"].to_list() == ['{"Cost Center":"CC-42"}']
    assert parsed.warnings == ["unknown column(s) kept in `extra`: Cost Center"]


def test_identity_breaks_are_findings_and_the_row_stays_loaded():
    parsed = parse(member_csv([
        good_row(trade_id="ok"),
        good_row(trade_id="off-by-cent", amount_due="9.01", credit_amount="9.01"),
        good_row(trade_id="underpaid", credit_amount="8"),
        good_row(trade_id="positive-refund", bill_type="Refund", original_order_id="O1"),
    ]))
    assert parsed.loaded.height == 4
    findings = bill_line_findings(parsed.loaded)
    got = sorted(zip(findings["reference"], findings["rule_id"], findings["difference_amount"]))
    assert got == [
        ("off-by-cent", "BILL.AMOUNT_DUE_IDENTITY", Decimal("0.01")),
        ("positive-refund", "BILL.REFUND_SIGN", Decimal("10")),
        ("underpaid", "BILL.PAYMENT_IDENTITY", Decimal("1")),
    ]


def test_utf8_bom_is_accepted_and_other_encodings_rejected_clearly():
    data = member_csv([good_row()])
    assert parse(b"\xef\xbb\xbf" + data).loaded.height == 1
    with pytest.raises(MemberRejected) as caught:
        parse(data.replace(b"Acme", "Acmé".encode("latin-1")))
    assert caught.value.rule_id == "FILE.ENCODING"


def test_line_numbers_follow_quoted_newlines():
    text = 'a,b\n1,"two\nlines"\n3,x\n4,y\n'
    assert physical_line_numbers(text, {1, 2, 3}) == {1: 2, 2: 4, 3: 5}


def test_empty_member_reads_zero_rows():
    parsed = parse(b"")
    assert parsed.rows_read == 0 and parsed.loaded.height == 0


def test_duplicated_header_rejects_the_member_naming_the_column():
    data = member_csv([good_row()]).decode().splitlines()
    data = [data[0] + ",Customer ID", data[1] + ",other"]
    with pytest.raises(MemberRejected) as caught:
        parse(("\n".join(data) + "\n").encode())
    assert caught.value.rule_id == "FILE.DUPLICATE_HEADER"
    assert "'Customer ID' appears twice in the header (positions 2 and 42)" in str(caught.value)


@pytest.mark.parametrize("opened", ['"Billing Cycle', '"Customer ID'])
def test_a_quote_never_closed_in_the_header_rejects_the_member_as_malformed(opened):
    # before, the records swallowed by the open quote surfaced as a column '' twice or missing columns
    data = member_csv([good_row(trade_id="T1"), good_row(trade_id="T2")]).decode()
    with pytest.raises(MemberRejected) as caught:
        parse(data.replace(opened[1:], opened, 1).encode())
    assert (caught.value.rule_id, str(caught.value)) == (
        "FILE.MALFORMED_CSV",
        "the header row never ends: a quote in it is not closed, so the records after it run into its fields")


def test_semicolon_delimited_file_is_rejected_clearly():
    data = member_csv([good_row()]).decode().replace(",", ";").encode()
    with pytest.raises(MemberRejected) as caught:
        parse(data)
    assert caught.value.rule_id == "FILE.WRONG_DELIMITER"


def test_a_record_with_extra_fields_is_quarantined_and_the_rest_loads():
    lines = member_csv([good_row(trade_id="T1"), good_row(trade_id="T2"), good_row(trade_id="T3")]).decode()
    lines = lines.splitlines()
    lines[2] += ",surplus"
    parsed = parse(("\n".join(lines) + "\n").encode())
    assert parsed.loaded["trade_id"].to_list() == ["T1", "T3"]
    assert parsed.quarantined.select("record_number", "rule_id").rows() == [(2, "FILE.FIELD_COUNT")]
    assert parsed.rows_read == 3


def test_an_unterminated_quote_quarantines_the_broken_record_only():
    lines = member_csv([good_row(trade_id="T1"), good_row(trade_id="T2"), good_row(trade_id="T3")]).decode()
    lines = lines.splitlines()
    lines[2] = lines[2].replace("web-1", '"web-1')   # opens a quote that never closes
    parsed = parse(("\n".join(lines) + "\n").encode())
    assert parsed.loaded["trade_id"].to_list() == ["T1"]
    (reason,) = parsed.quarantined["reason"].to_list()
    assert "unterminated quote" in reason
    assert parsed.rows_read == parsed.loaded.height + parsed.quarantined.height == 2


def test_a_nul_byte_quarantines_its_record():
    parsed = parse(member_csv([good_row(trade_id="T1"), good_row(trade_id="T2", resource_name="we\x00b")]))
    assert parsed.loaded["trade_id"].to_list() == ["T1"]
    assert parsed.quarantined.select("record_number", "rule_id").rows() == [(2, "FILE.NUL_BYTE")]


def test_gbk_with_chinese_headers_is_decoded_and_other_encodings_are_not():
    gbk = member_csv([good_row(customer_name="深圳市云端科技有限公司")], language="zh").decode().encode("gbk")
    parsed = parse(gbk)
    assert parsed.loaded["customer_name"].to_list() == ["深圳市云端科技有限公司"]
    assert parsed.warnings == ["member is GBK-encoded, not UTF-8; decoded as GB18030"]
    latin1 = member_csv([good_row(customer_name="Café Ltd")]).decode().encode("latin-1")
    with pytest.raises(MemberRejected) as caught:
        parse(latin1)
    assert caught.value.rule_id == "FILE.ENCODING"


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"])
def test_row_limit_stops_a_member_before_parsing_whatever_its_line_ends(line_end):
    data = member_csv([good_row()] * 5).replace(b"\n", line_end)
    with pytest.raises(MemberRejected) as caught:
        parse_member(data, BILL_LINE, BillLineModel, "2026-09", max_rows=3)
    assert caught.value.rule_id == "FILE.MEMBER_TOO_MANY_ROWS"
    parsed, _ = parse_member(data, BILL_LINE, BillLineModel, "2026-09", max_rows=5)
    assert parsed.loaded.height == 5


def test_header_only_member_reads_zero_rows():
    parsed = parse(member_csv([]))
    assert (parsed.rows_read, parsed.loaded.height, parsed.quarantined.height) == (0, 0, 0)


def _lines(rows) -> list[str]:
    return member_csv(rows).decode().splitlines()


def _member(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_a_record_with_a_field_too_few_is_quarantined_not_loaded_with_shifted_columns():
    lines = _lines([good_row(trade_id="T1"),
                    good_row(trade_id="T2", official_amount="36.001", discount_amount="1", amount_due="35.001",
                             credit_amount="35.001"),
                    good_row(trade_id="T3")])
    # T2 loses its discount types field ("605"): every later value would move one column left,
    # amount due reading the truncated amount's 0
    lines[2] = lines[2].replace(",605,", ",", 1)
    # T3 loses its last (empty) field: the shortfall of a trailing empty value counts as well
    lines[3] = lines[3][:-1]
    parsed = parse(_member(lines))
    assert parsed.loaded.select("trade_id", "amount_due").rows() == [("T1", Decimal("9"))]
    assert parsed.quarantined.select("record_number", "rule_id", "reason").rows() == [
        (2, "FILE.FIELD_COUNT", "record has 40 fields, the header has 41"),
        (3, "FILE.FIELD_COUNT", "record has 40 fields, the header has 41"),
    ]
    assert '"35.001"' in parsed.quarantined["raw_record"][0]  # the values as delivered
    assert parsed.rows_read == parsed.loaded.height + parsed.quarantined.height == 3


def test_fields_longer_than_the_csv_module_limit_load_exactly():
    long_name = "n" * 300_000  # Python's csv module refuses fields over 131,072 characters by default
    lines = _lines([good_row(trade_id="T1", resource_name=long_name), good_row(trade_id="T2")])
    lines[2] += ",surplus"  # a broken record sends the member down the record-by-record path
    parsed = parse(_member(lines))
    assert parsed.loaded["resource_name"].to_list() == [long_name]
    assert parsed.quarantined.select("record_number", "rule_id").rows() == [(2, "FILE.FIELD_COUNT")]
    assert physical_line_numbers("\n".join(lines), {2}) == {2: 3}


def test_trade_times_far_outside_the_bill_month_are_findings_and_the_lines_load_as_delivered():
    times = {
        "year-1": "0001-01-01 09:00:00 GMT+08:00",
        "year-9999": "9999-12-31 23:59:59 GMT+08:00",
        "first-of-month": "2026-09-01 00:00:00 GMT+08:00",
        "first-of-next": "2026-10-01 23:59:59 GMT+08:00",        # still billed to September
        "7-days-early": "2026-08-25 00:00:00 GMT+08:00",         # within the tolerance
        "8-days-early": "2026-08-24 23:59:59 GMT+08:00",
        "7-days-after-the-1st": "2026-10-08 23:59:59 GMT+08:00",
        "8-days-after-the-1st": "2026-10-09 00:00:00 GMT+08:00",
        # in year 0 once in UTC, which Python's datetime cannot hold: not loaded
        "year-0-in-utc": "0001-01-01 07:59:59 GMT+08:00",
    }
    parsed = parse(member_csv([good_row(trade_id=name, trade_time=time) for name, time in times.items()]))
    assert parsed.loaded.height == 8
    assert parsed.quarantined.select("record_number", "rule_id", "reason").rows() == [
        (9, "FILE.PARSE.TIME", "trade_time: '0001-01-01 07:59:59 GMT+08:00' – time is not a valid "
                               "'YYYY-MM-DD HH:MM:SS[ GMT+08:00]' from 0001-01-01 08:00:00 on")]
    loaded = dict(zip(parsed.loaded["trade_id"], parsed.loaded["trade_time"].cast(pl.Utf8)))
    assert loaded["year-1"] == "0001-01-01 01:00:00.000000+00:00"
    assert loaded["year-9999"] == "9999-12-31 15:59:59.000000+00:00"
    findings = bill_line_findings(parsed.loaded)
    outside = findings.filter(pl.col("rule_id") == "BILL.TRADE_TIME_OUTSIDE_CYCLE")
    assert outside["reference"].to_list() == ["year-1", "year-9999", "8-days-early", "8-days-after-the-1st"]
    assert outside["severity"].unique().to_list() == ["warning"]
    assert outside["message"][0] == (
        "trade time is more than 7 days outside the bill month (GMT+8; the 1st of the next month belongs to it); "
        "raise it with HUAWEI CLOUD; the line is loaded as delivered and counted in the file's month")
    assert findings.height == 4  # no other finding on these lines


def test_findings_on_the_largest_amounts_are_exact_where_a_line_amount_would_overflow():
    largest = "999999999999.99999999"  # the largest amount DECIMAL(20, 8) holds
    parsed = parse(member_csv([good_row(trade_id="B1", official_amount=largest, discount_amount=f"-{largest}",
                                        amount_due="0", cash_amount=largest, credit_amount=largest,
                                        debt_amount=largest)]))
    findings = bill_line_findings(parsed.loaded)
    assert findings.select("rule_id", "expected", "actual", "difference_amount").rows() == [
        ("BILL.AMOUNT_DUE_IDENTITY", Decimal("1999999999999.99999998"), Decimal(0), Decimal("-1999999999999.99999998")),
        ("BILL.EXPENDITURE_SIGN", Decimal(0), Decimal(f"-{largest}"), Decimal(f"-{largest}")),
        ("BILL.PAYMENT_IDENTITY", Decimal("2999999999999.99999997"), Decimal(0), Decimal("-2999999999999.99999997")),
    ]


def test_blank_lines_are_no_records_wherever_they_are_and_line_numbers_stay_true():
    lines = _lines([good_row(trade_id="T1"), good_row(trade_id="T2", amount_due="x"), good_row(trade_id="T3")])
    # before the header (once read as an empty member, losing every line), between records, at the end
    data = ("\n\r\n" + lines[0] + "\n" + lines[1] + "\n\n" + lines[2] + "\r\n\r\n" + lines[3] + "\n\n\n").encode()
    parsed, text = parse_member(data, BILL_LINE, BillLineModel, "2026-09")
    assert parsed.rows_read == 3 and parsed.loaded["trade_id"].to_list() == ["T1", "T3"]
    assert parsed.quarantined.select("record_number", "rule_id").rows() == [(2, "FILE.PARSE.MONEY")]
    assert physical_line_numbers(text.decode(), {1, 2, 3}) == {1: 4, 2: 6, 3: 8}
    # the record-by-record read (taken when a record is broken) counts the same records
    broken = data.replace(b"T3,", b"T3,surplus,")
    parsed, _ = parse_member(broken, BILL_LINE, BillLineModel, "2026-09")
    assert parsed.quarantined.select("record_number", "rule_id").rows() == [
        (2, "FILE.PARSE.MONEY"), (3, "FILE.FIELD_COUNT")]
    assert parsed.loaded["trade_id"].to_list() == ["T1"]


@pytest.mark.parametrize("line_end", [b"\r\n", b"\r"])
def test_crlf_and_cr_only_line_ends_load_alike(line_end):
    parsed = parse(member_csv([good_row(trade_id="T1"), good_row(trade_id="T2")]).replace(b"\n", line_end))
    assert parsed.loaded["trade_id"].to_list() == ["T1", "T2"]
    assert parsed.loaded["amount_due"].to_list() == [Decimal("9"), Decimal("9")]


@pytest.mark.parametrize("data, message", [
    (member_csv([good_row()]).decode().encode("utf-16"),
     "the member is UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8"),
    (member_csv([good_row()]).decode().encode("utf-16-le"),  # no mark: ASCII as UTF-16 is valid UTF-8 with NULs
     "the header holds NUL bytes, as UTF-16 text does (or the file is damaged)"),
])
def test_utf16_members_are_rejected_saying_so(data, message):
    with pytest.raises(MemberRejected) as caught:
        parse(data)
    assert (caught.value.rule_id, str(caught.value)) == ("FILE.ENCODING", message)


@pytest.mark.parametrize("amount, loaded", [
    ("-0", Decimal("0")), ("-0.00", Decimal("0")), ("+9", Decimal("9")), (" 9 ", Decimal("9")),
    ("999999999999.99999999", Decimal("999999999999.99999999")),
    ("1e5", None), ("1E+05", None), (".5", None), ("9.", None), ("NaN", None), ("Infinity", None),
    ("0x10", None), ("1,000", None), ("1000000000000", None), ("9.000000001", None),
])
def test_amounts_load_exactly_or_are_quarantined_as_money_parse_errors(amount, loaded):
    parsed = parse(member_csv([good_row(amount_due=amount)]))
    if loaded is None:
        assert parsed.quarantined.select("rule_id", "reason").rows() == [
            ("FILE.PARSE.MONEY", f"amount_due: '{amount.strip()}' – money value is not a decimal with at most 8 places")]
    else:
        assert parsed.loaded["amount_due"].to_list() == [loaded] and parsed.quarantined.height == 0


@pytest.mark.parametrize("time, utc", [
    ("2026-09-03 10:00:00", "2026-09-03 02:00:00"),
    ("2026-09-03 10:00:00GMT+8:00", "2026-09-03 02:00:00"),
    ("2026-09-03 10:00:00 GMT+09:00", None), ("2026-09-03T10:00:00Z", None), ("2026-09-03 10:00:00 UTC+8", None),
    ("2026-09-03 24:00:00", None), ("2026-02-29 10:00:00", None), ("2026-09-31 10:00:00", None),
    ("2026-09-03 10:00", None), ("２０２６-09-03 10:00:00", None),
])
def test_times_in_gmt8_load_and_other_zones_or_impossible_dates_are_quarantined(time, utc):
    parsed = parse(member_csv([good_row(trade_time=time)]))
    if utc is None:
        assert parsed.quarantined["rule_id"].to_list() == ["FILE.PARSE.TIME"]
    else:
        assert parsed.loaded["trade_time"].dt.strftime("%Y-%m-%d %H:%M:%S").to_list() == [utc]


AGREEMENT_HEADER = "customer_id,service_type_code,resource_type_code,discount_rate,valid_from,valid_to\n"


@pytest.mark.parametrize("row, rule_id", [
    ("*,*,*,0.05,2026-01-01,", None),
    ('"*","*","*","0.05","2026-01-01",""', None),
    ("*,*,*,-0,2026-01-01,", None),
    ("*,*,*,0.05,2026-02-30,", "FILE.PARSE.DATE"),
    ("*,*,*,0.05,2026-1-1,", "FILE.PARSE.DATE"),
    ("*,*,*,0.05,2026-01-01T00:00:00,", "FILE.PARSE.DATE"),
    # year 0 is no date Python holds: quarantined, where a failing row of it once crashed the month
    ("*,*,*,1.5,0000-06-01,", "FILE.PARSE.DATE"),
    ("*,*,*,0.05,0000-06-01,0000-01-01", "FILE.PARSE.DATE"),
    ("*,*,*,5e-2,2026-01-01,", "FILE.PARSE.RATE"),
    ("*,*,*,0.1234567,2026-01-01,", "FILE.PARSE.RATE"),
    ("*,*,*,1.5,2026-01-01,", "AGREEMENT.RATE_RANGE"),
    ("*,*,*,0.05,2026-01-01,2025-01-01", "AGREEMENT.DATE_ORDER"),
    ("*,*,*,0.05,2026-01-01", "FILE.FIELD_COUNT"),
    ("*,*,*,0.05,2026-01-01,,", "FILE.FIELD_COUNT"),
])
def test_agreement_rows_load_or_are_quarantined_with_their_rule(row, rule_id):
    parsed, _ = parse_member((AGREEMENT_HEADER + row + "\n").encode(), CUSTOMER_DISCOUNT, CustomerDiscountModel, None)
    assert parsed.quarantined["rule_id"].to_list() == ([rule_id] if rule_id else [])
    assert parsed.loaded.height == (0 if rule_id else 1)


def test_both_agreement_files_keep_their_validity_rule_id_and_their_column_order():
    """The validity window is one base model of both: its check keeps its rule id in each model
    (pandera names an inherited check after its function for all but the first model built), and a
    row's first failure is still chosen in the file's column order, the window last."""
    discounts, _ = parse_member((AGREEMENT_HEADER + "*,*,*,0.05,2026-01-01,2025-01-01\n,*,*,0.05,,\n").encode(),
                                CUSTOMER_DISCOUNT, CustomerDiscountModel, None)
    rates, _ = parse_member(b"incentive_type,policy_code,rate,valid_from,valid_to\n"
                            b"RESELLER,1,0.05,2026-01-01,2025-01-01\n,1,0.05,,\n", INCENTIVE_RATE, IncentiveRateModel, None)
    assert discounts.quarantined.select("record_number", "rule_id", "reason").rows() == [
        (1, "AGREEMENT.DATE_ORDER", "valid_to is before valid_from"),
        (2, "FILE.REQUIRED", "customer_id: empty – required value is empty")]
    assert rates.quarantined.select("record_number", "rule_id", "reason").rows() == [
        (1, "AGREEMENT.DATE_ORDER", "valid_to is before valid_from"),
        (2, "FILE.REQUIRED", "incentive_type: empty – required value is empty")]
