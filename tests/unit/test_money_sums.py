"""Sums of money in the report code are exact however large: Python's default decimal context
keeps 28 digits, which rounds a sum beyond 10^20 at 8 places and refuses to quantize it."""

from decimal import Decimal

from reports.csv_export import _OpenBill
from reports.files import DropBehindFiles
from reports.formatting import money_sum

LARGEST_SUM = Decimal("1" + "0" * 29 + ".00000001")  # 38 digits: the most a DECIMAL(38,8) holds


def test_money_sum_keeps_every_digit_and_counts_none_as_zero():
    assert money_sum([LARGEST_SUM, None, Decimal("-0.00000002")]) == Decimal("99999999999999999999999999999.99999999")
    assert sum([LARGEST_SUM, Decimal("-0.00000002")], Decimal(0)) != money_sum([LARGEST_SUM, Decimal("-0.00000002")])
    assert money_sum([]) == Decimal(0)


def test_a_customer_bill_total_beyond_10_to_the_20_is_written_exactly(tmp_path):
    bill = _OpenBill("c1", tmp_path / "c1.csv", b"header\r\n", DropBehindFiles())
    line_total = Decimal("999999999999.99999999")  # the largest line amount
    for _ in range(3):  # three batches of 100 million such lines each
        bill.add_totals({"official_amount": line_total * 100_000_000, "customer_charge_amount": None})
    bill.close()
    total_line = (tmp_path / "c1.csv").read_text(encoding="utf-8").splitlines()[-1].split(",")
    assert total_line[0] == "TOTAL"
    assert total_line[-3:] == ["299999999999999999997.00000000", "", "0.00000000"]
