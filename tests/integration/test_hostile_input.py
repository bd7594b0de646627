"""Hostile bill files through the whole month close (Dagster assets, a DuckDB file, the report
pack): nothing is lost, the counts add up per member, and no amount a line may hold crashes a sum."""

import csv
from decimal import Decimal

from tests.fixtures.bill_files import good_row, member_csv
from tests.integration.test_bad_input import CYCLE, _inbox, _run

LARGEST = "999999999999.99999999"  # the largest amount DECIMAL(20, 8) holds


def _close_month(tmp_path, members):
    result, con = _run(tmp_path, _inbox(tmp_path, members))
    assert result.success
    return con


def test_a_month_whose_total_overflows_a_line_amount_is_summed_exactly(tmp_path):
    line = dict(official_amount=LARGEST, discount_amount="0", amount_due=LARGEST, credit_amount=LARGEST)
    con = _close_month(tmp_path, {"customerBill_202609_0001.csv": member_csv(
        [good_row(trade_id=f"T{n}", **line) for n in range(3)]
        + [good_row(trade_id="R1", bill_type="Refund", original_order_id="O1", official_amount=f"-{LARGEST}",
                    discount_amount="0", amount_due=f"-{LARGEST}", credit_amount=f"-{LARGEST}")])})
    largest = Decimal(LARGEST)
    charge = 2 * Decimal("949999999999.99999999")  # 0.95 of each line, to 8 places; the refund's is negative
    assert con.execute("select amount_due, refund_amount, official_amount, customer_charge_amount, margin_amount "
                       "from marts.customer_monthly_expenditure").fetchall() == [
        (3 * largest, -largest, 3 * largest, charge, charge - 2 * largest)]
    # the pack renders the sums as they are
    with (tmp_path / "reports" / CYCLE / "customer_monthly_expenditure.csv").open(encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    assert (row["amount_due"], row["margin_amount"]) == ("2999999999999.99999997", "-100000000000.00000000")


def test_short_records_and_members_of_one_name_add_up_per_member_in_data_quality(tmp_path):
    member = member_csv([good_row(trade_id="A1"),
                         good_row(trade_id="A2", official_amount="36.001", discount_amount="1",
                                  amount_due="35.001", credit_amount="35.001")])
    lines = member.decode().splitlines()
    lines[2] = lines[2].replace(",605,", ",", 1)  # A2 one field short: once loaded with amount due 0
    short = ("\n".join(lines) + "\n").encode()
    con = _close_month(tmp_path, [("customerBill_202609_0001.csv", member),
                                  ("customerBill_202609_0001.csv", short)])
    assert con.execute("select member, rows_read, rows_loaded, rows_quarantined, status from marts.data_quality "
                       "where source = 'customerBill' order by member").fetchall() == [
        ("customerBill_202609_0001.csv", 2, 2, 0, "ok"),
        ("customerBill_202609_0001.csv (#2)", 2, 0, 2, "quarantined_rows"),
    ]
    assert con.execute("select member, record_number, rule_id from audit.quarantine order by record_number"
                       ).fetchall() == [("customerBill_202609_0001.csv (#2)", 1, "FILE.DUPLICATE_LINE"),
                                        ("customerBill_202609_0001.csv (#2)", 2, "FILE.FIELD_COUNT")]
    assert con.execute("select sum(amount_due) from marts.customer_monthly_expenditure").fetchone() == (
        Decimal("44.001"),)
