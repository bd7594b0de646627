"""The accounting journal on an in-memory warehouse: the worked example of docs/journal.md line by
line, the balance and margin invariants, and the chart of accounts (the partner's codes, the
defaults, and what the pack says)."""

from decimal import Decimal

import duckdb
import pytest

from pipelines.lib.journal import expenditure_margin, journal_imbalances, journal_margin
from pipelines.lib.sql_models import run_model
from pipelines.lib.warehouse import ensure_schema
from reports.journal import chart_note
from tests.unit.test_sql_models import add_line

D = Decimal
CYCLE = "2026-09"


@pytest.fixture
def con():
    con = duckdb.connect()
    ensure_schema(con)
    con.execute("insert into staging.customer_discount values "
                "('c1', '*', '*', 0.10, '2026-01-01', null, null, 'a.csv', 1, 'h', 'l')")
    return con


def build(con, incentive: str | None = None):
    """The marts the journal reads, built by their own models; the incentive mart as a table holding
    the month's expected incentive (its own model needs the BSS API's policies)."""
    run_model(con, "core", "customer_discount_rule")
    run_model(con, "core", "refund_original_order", CYCLE)  # prices the refunds
    run_model(con, "core", "line_agreement", CYCLE)
    run_model(con, "core", "rated_bill_line", CYCLE)
    run_model(con, "marts", "customer_monthly_expenditure", CYCLE)
    con.execute("create or replace table marts.incentive_reconciliation "
                "(period varchar, incentive_type varchar, expected_incentive_amount decimal(20, 8))")
    if incentive is not None:
        con.execute("insert into marts.incentive_reconciliation values (?, 'Monthly rebate', ?)", [CYCLE, incentive])
    run_model(con, "core", "chart_of_accounts")
    run_model(con, "marts", "chart_of_accounts")  # the view the pack reads
    run_model(con, "marts", "accounting_journal", CYCLE)


def worked_example(con):
    """docs/journal.md#worked-example: usage listed at 1,000.00 (HUAWEI CLOUD's discount 30 %, a
    50.00 cash coupon), the customer's agreed discount 10 %, an order listed at 100.00 returned,
    a 5.00 credit from HUAWEI CLOUD."""
    add_line(con, 1, "c1", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "1000", "300", "700", coupon="50")
    add_line(con, 2, "c1", "svc.ecs", "res.vm", "2026-09-20", "Refund", "-100", "-30", "-70", original="T1")
    add_line(con, 3, "c1", "svc.ecs", "res.vm", "2026-09-25", "Adjustment", "0", "0", "-5")


def journal(con):
    return con.execute(
        """select entry, account_code, debit_amount, credit_amount from marts.accounting_journal
           where bill_cycle = ? order by customer_id nulls last, entry, credit_amount, account_code""",
        [CYCLE]).fetchall()


def test_the_worked_example_line_by_line(con):
    worked_example(con)
    build(con, incentive="14")
    assert journal(con) == [
        ("adjustment", "2100", D("5"), D("0")),
        ("adjustment", "5900", D("0"), D("5")),
        ("cost", "5000", D("700"), D("0")),
        ("cost", "2100", D("0"), D("700")),
        ("coupons", "2100", D("50"), D("0")),
        ("coupons", "1410", D("0"), D("50")),
        ("customer_refund", "4010", D("90"), D("0")),
        ("customer_refund", "1200", D("0"), D("90")),
        ("huawei_refund", "2100", D("70"), D("0")),
        ("huawei_refund", "5010", D("0"), D("70")),
        ("sale", "1200", D("900"), D("0")),
        ("sale", "4000", D("0"), D("900")),
        ("incentive", "1420", D("14"), D("0")),
        ("incentive", "4900", D("0"), D("14")),
    ]
    totals = con.execute("select sum(debit_amount), sum(credit_amount) from marts.accounting_journal").fetchone()
    assert totals == (D("1829"), D("1829"))
    assert journal_imbalances(con, CYCLE) == {}
    # revenue 900 − 90 less cost 700 − 70, the mart's customer charge 810 − (amount due 700 + refunds −70)
    assert journal_margin(con, CYCLE) == expenditure_margin(con, CYCLE) == D("180")
    balances = dict(con.execute(
        """select account, sum(debit_amount - credit_amount) from marts.accounting_journal group by account""").fetchall())
    assert balances["customer_receivable"] == D("810")     # the customer owes
    assert balances["huawei_payable"] == D("-575")         # the partner owes HUAWEI CLOUD 700 − 70 − 50 − 5
    assert balances["incentive_receivable"] == D("14")


def test_a_positive_adjustment_debits_the_cost_and_a_month_without_incentive_has_no_incentive_line(con):
    add_line(con, 1, "c1", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "10", "2", "8")
    add_line(con, 2, "c1", "svc.ecs", "res.vm", "2026-09-25", "Adjustment", "0", "0", "3")
    build(con)
    rows = journal(con)
    assert ("adjustment", "5900", D("3"), D("0")) in rows and ("adjustment", "2100", D("0"), D("3")) in rows
    assert not [row for row in rows if row[0] in ("incentive", "coupons", "customer_refund", "huawei_refund")]
    assert journal_imbalances(con, CYCLE) == {}
    assert journal_margin(con, CYCLE) == expenditure_margin(con, CYCLE) == D("1")  # 9.00 charged − 8.00 due


def test_the_journal_balances_per_partner_with_cents_of_eight_decimals(con):
    add_line(con, 1, "c1", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "33.33333333", "3.33333333", "30")
    add_line(con, 2, "c2", "svc.obs", "res.bucket", "2026-09-04", "Expenditure", "0.00000007", "0", "0.00000007")
    build(con)
    assert journal_imbalances(con, CYCLE) == {}
    partners = con.execute("select distinct partner_id from marts.accounting_journal").fetchall()
    assert partners == [("p0",)]
    # c1: 33.33333333 × 0.9 = 29.999999997 → 30.00000000 at 8 places; c2 has no rule: list price
    assert journal_margin(con, CYCLE) == expenditure_margin(con, CYCLE) == D("0")


def test_an_unbalanced_journal_is_named_by_partner(con):
    add_line(con, 1, "c1", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "10", "2", "8")
    build(con)
    con.execute("update marts.accounting_journal set debit_amount = debit_amount + 0.00000001 where entry = 'sale'"
                " and debit_amount > 0")
    assert journal_imbalances(con, CYCLE) == {"p0": "debits 17.00000001 vs credits 17.00000000"}


def test_without_a_chart_file_every_account_takes_its_default_and_the_pack_says_so(con):
    add_line(con, 1, "c1", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "10", "2", "8")
    build(con)
    chart = con.execute("select account, account_code, source from core.chart_of_accounts").fetchall()
    assert len(chart) == 10 and {source for _, _, source in chart} == {"default"}
    assert ("revenue", "4000", "default") in chart
    assert chart_note(con, CYCLE).startswith("No chart of accounts has been delivered "
                                             "(agreements/chart_of_accounts.csv): journal_2026-09.csv uses")


def test_the_partners_codes_win_and_an_account_it_leaves_out_is_named(con):
    add_line(con, 1, "c1", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "10", "2", "8")
    con.execute("insert into staging.chart_of_account values "
                "('revenue', '600101', 'Revenue – cloud resale', null, 'agreements/chart_of_accounts.csv', 1, 'h', 'l')")
    build(con)
    assert ("sale", "600101", D("0"), D("9")) in journal(con)
    names = dict(con.execute("select account_code, account_name from marts.accounting_journal").fetchall())
    assert names["600101"] == "Revenue – cloud resale"
    note = chart_note(con, CYCLE)
    assert note.startswith("agreements/chart_of_accounts.csv does not map 9 of the journal's 10 accounts (")
    assert "customer_receivable" in note and "revenue," not in note


def test_the_accounts_the_staging_check_accepts_are_the_default_charts(con):
    from schemas.chart_of_accounts import ACCOUNTS
    run_model(con, "core", "chart_of_accounts")
    assert sorted(ACCOUNTS) == [row[0] for row in con.execute(
        "select account from core.chart_of_accounts order by account").fetchall()]


def test_the_incentive_is_the_partners_own_and_not_a_resellers(con):
    add_line(con, 1, "c1", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "10", "2", "8")
    add_line(con, 2, "c2", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "10", "2", "8")
    con.execute("update staging.bill_line set partner_id = 'r9' where customer_id = 'c2'")  # a reseller's customer
    build(con, incentive="1.5")
    incentive = "select distinct partner_id from marts.accounting_journal where entry = 'incentive'"
    assert con.execute(incentive).fetchall() == [(None,)]  # two ids and no reseller list: cannot tell
    con.execute("insert into staging.api_indirect_partner (fetched_at, indirect_partner_id, src_snapshot, "
                "src_sha256, src_record, load_id) values (now(), 'r9', 's', 'h', 1, 'l')")
    run_model(con, "marts", "accounting_journal", CYCLE)
    assert con.execute(incentive).fetchall() == [("p0",)]
    assert dict(con.execute("select customer_id, max(partner_id) from marts.accounting_journal "
                            "where customer_id is not null group by 1").fetchall()) == {"c1": "p0", "c2": "r9"}
    assert journal_imbalances(con, CYCLE) == {}
