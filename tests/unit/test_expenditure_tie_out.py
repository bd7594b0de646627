"""The blocking tie-out of marts.customer_monthly_expenditure against the staged lines, one pass
over each table: every column that differs is named with both totals."""

from decimal import Decimal

import duckdb

from pipelines.assets.marts import _tie_out_differences
from pipelines.lib.warehouse import ensure_schema

CYCLE = "2026-09"
STAGED = [  # (bill_type, official, discount, amount_due, cash_coupon, voucher, stored_card)
    ("Expenditure", "100", "10", "90", "5", None, "1"),
    ("Expenditure", "50", "5", "45", None, "2", None),
    ("Refund", "-20", "-2", "-18", None, None, None),
    ("Adjustment", "0", "0", "-3.5", None, None, None),
]


def _warehouse(mart_row):
    con = duckdb.connect(":memory:")
    ensure_schema(con)
    for number, (bill_type, official, discount, due, coupon, voucher, card) in enumerate(STAGED, start=1):
        con.execute(
            """insert into staging.bill_line (bill_cycle, customer_id, bill_type, billing_mode, service_type_code,
                   trade_id, trade_time, trade_date_local, official_amount, discount_amount, amount_due,
                   cash_coupon_amount, voucher_amount, stored_card_amount, src_object, src_member, src_record,
                   src_sha256, load_id)
               values (?, 'c1', ?, 1, 'ecs', ?, timestamptz '2026-09-03 02:00:00+00', date '2026-09-03',
                       ?, ?, ?, ?, ?, ?, 'o', 'm', ?, 's', 'l')""",
            [CYCLE, bill_type, f"T{number}", official, discount, due, coupon, voucher, card, number])
    con.execute("""create schema if not exists marts;
                   create table marts.customer_monthly_expenditure (bill_cycle varchar, official_amount decimal(20,8),
                       discount_amount decimal(20,8), amount_due decimal(20,8), coupon_paid_amount decimal(20,8),
                       refund_amount decimal(20,8), adjustment_amount decimal(20,8))""")
    con.execute("insert into marts.customer_monthly_expenditure values (?, ?, ?, ?, ?, ?, ?)", [CYCLE, *mart_row])
    return con


def test_totals_that_tie_give_no_difference():
    con = _warehouse(["150", "15", "135", "8", "-18", "-3.5"])
    assert _tie_out_differences(con, CYCLE) == {}


def test_each_column_that_differs_is_named_with_both_totals():
    con = _warehouse(["150", "15", "135.01", "7", "-18", "-3.5"])
    assert _tie_out_differences(con, CYCLE) == {
        "amount_due": f"mart {Decimal('135.01000000')} vs staged {Decimal('135.00000000')}",
        "coupon_paid_amount": f"mart {Decimal('7.00000000')} vs staged {Decimal('8.00000000')}",
    }
