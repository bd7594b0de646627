"""The accounting journal and the customer statements of a closed month, end to end: the pipeline
against an inbox of the small world whose chart of accounts has bad rows; every statement's total
read back from its PDF and compared with the customer's CSV bill and the mart."""

import csv
import re
import shutil
from decimal import ROUND_HALF_UP, Decimal

import dagster as dg
import duckdb
import pytest
from pypdf import PdfReader

from pipelines.partitions import partition_key
from pipelines.runner import all_assets
from tests.integration.conftest import pipeline_resources

CYCLE = "2026-09"
CHART = "agreements/chart_of_accounts.csv"
# the world's chart with four bad rows: an unknown account, a second row for revenue, an empty code,
# a code too long; and cost_of_sales left out altogether
TAMPERED_ROWS = [
    ("goodwill", "190001", "Goodwill"),
    ("revenue", "699999", "Second revenue row"),
    ("cost_refunds", "", "Refunds without a code"),
    ("billing_adjustments", "6" * 33, "Adjustments with a code too long"),
]
LEFT_OUT = ("billing_adjustments", "cost_of_sales", "cost_refunds")


@pytest.fixture(scope="module")
def closed_month(tmp_path_factory, world_dir):
    root = tmp_path_factory.mktemp("journal")
    inbox = root / "inbox"
    shutil.copytree(world_dir, inbox)
    with open(inbox / CHART, encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.reader(handle)]
    header, accounts = rows[0], [row for row in rows[1:] if row[0] not in LEFT_OUT]
    with open(inbox / CHART, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *accounts, *TAMPERED_ROWS])
    resources = pipeline_resources(root, inbox=inbox)
    result = dg.materialize(all_assets(), partition_key=partition_key(CYCLE), resources=resources)
    assert result.success
    con = duckdb.connect(resources["warehouse"].path, read_only=True)
    yield con, resources, result
    con.close()


def test_bad_chart_rows_are_quarantined_and_their_accounts_take_the_default(closed_month):
    con, _, _ = closed_month
    quarantined = con.execute(
        "select rule_id from audit.quarantine where object_key = ? order by rule_id", [CHART]).fetchall()
    assert quarantined == [("CHART.DUPLICATE_ACCOUNT",), ("CHART.UNKNOWN_ACCOUNT",), ("FILE.REQUIRED",),
                           ("FILE.TOO_LONG",)]
    loads = con.execute("select rows_read, rows_loaded, rows_quarantined from audit.loads where object_key = ?",
                        [CHART]).fetchone()
    assert loads == (11, 7, 4)
    chart = {account: (code, source) for account, code, source in con.execute(
        "select account, account_code, source from core.chart_of_accounts").fetchall()}
    assert chart["revenue"] == ("600101", CHART)           # the first row wins
    assert chart["cost_of_sales"] == ("5000", "default")
    assert chart["cost_refunds"] == ("5010", "default")
    assert chart["billing_adjustments"] == ("5900", "default")


def test_the_journal_balances_and_implies_the_marts_margin_exactly(closed_month):
    con, _, result = closed_month
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("accounting_journal", "debits_equal_credits")] is True
    assert checks[("accounting_journal", "margin_equals_expenditure")] is True
    debits, credits = con.execute("select sum(debit_amount), sum(credit_amount) from marts.accounting_journal "
                                  "where bill_cycle = ?", [CYCLE]).fetchone()
    mart = con.execute(
        """select sum(customer_charge_amount), sum(amount_due), sum(refund_amount), sum(coupon_paid_amount),
                  sum(adjustment_amount), sum(margin_amount)
           from marts.customer_monthly_expenditure where bill_cycle = ?""", [CYCLE]).fetchone()
    charge, due, refunds, coupons, adjustments, margin = mart
    sale, refund_charge = con.execute(
        """select sum(customer_charge_amount) filter (where bill_type = 'Expenditure'),
                  sum(customer_charge_amount) filter (where bill_type = 'Refund')
           from marts.customer_bill_line where bill_cycle = ?""", [CYCLE]).fetchone()
    assert refunds < 0 and refund_charge < 0 and coupons > 0 and adjustments != 0  # every entry is exercised
    # per customer each amount is posted once on each side; the world has no customer whose sums change sign
    per_customer = con.execute(
        """select sum(abs(adjustment_amount)) from (select customer_id, sum(adjustment_amount) as adjustment_amount
           from marts.customer_monthly_expenditure where bill_cycle = ? group by customer_id)""", [CYCLE]).fetchone()[0]
    incentive = con.execute("select coalesce(sum(debit_amount), 0) from marts.accounting_journal "
                            "where bill_cycle = ? and entry = 'incentive'", [CYCLE]).fetchone()[0]
    assert debits == credits == sale - refund_charge + due - refunds + coupons + per_customer + incentive
    implied = con.execute("select sum(credit_amount - debit_amount) from marts.accounting_journal "
                          "where bill_cycle = ? and section = 'margin'", [CYCLE]).fetchone()[0]
    assert implied == margin == charge - (due + refunds)
    codes = dict(con.execute("select distinct account, account_code from marts.accounting_journal").fetchall())
    assert codes["customer_receivable"] == "112201" and codes["cost_of_sales"] == "5000"


def test_the_pack_holds_the_journal_and_says_which_codes_are_defaults(closed_month):
    con, resources, _ = closed_month
    folder = resources["reports"].cycle_dir(CYCLE)
    with open(folder / f"journal_{CYCLE}.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == con.execute("select count(*) from marts.accounting_journal where bill_cycle = ?",
                                    [CYCLE]).fetchone()[0]
    assert sum(Decimal(r["debit_amount"]) for r in rows) == sum(Decimal(r["credit_amount"]) for r in rows) > 0
    html = (folder / f"month_close_{CYCLE}.html").read_text(encoding="utf-8")
    assert (f"{CHART} does not map 3 of the journal&#39;s 10 accounts ({', '.join(LEFT_OUT)}): "
            f"journal_{CYCLE}.csv uses their default codes") in html
    assert f"journal_{CYCLE}.csv" in html


def test_every_statement_total_read_back_equals_the_csv_bill_and_the_mart(closed_month):
    con, resources, _ = closed_month
    bills = resources["reports"].cycle_dir(CYCLE) / "customer_bills"
    mart = dict(con.execute("select customer_id, sum(customer_charge_amount) from marts.customer_monthly_expenditure "
                            "where bill_cycle = ? group by customer_id having sum(line_count) > 0", [CYCLE]).fetchall())
    statements = sorted(bills.glob("*.pdf"))
    assert sorted(p.stem for p in statements) == sorted(p.stem for p in bills.glob("*.csv")) == sorted(mart)
    html = (resources["reports"].cycle_dir(CYCLE) / f"month_close_{CYCLE}.html").read_text(encoding="utf-8")
    names = dict(con.execute("select customer_id, max(customer_name) from marts.customer_bill_line "
                             "where bill_cycle = ? group by customer_id", [CYCLE]).fetchall())
    for statement in statements:
        text = "\n".join(page.extract_text() for page in PdfReader(statement).pages)
        total = Decimal(re.search(r"Total due\s*USD ([-\d,.]+)", text).group(1).replace(",", ""))
        with open(statement.with_suffix(".csv"), encoding="utf-8-sig", newline="") as handle:
            csv_total = Decimal([row for row in csv.reader(handle)][-1][-1])
        cents = Decimal("0.01")
        assert total == csv_total.quantize(cents, ROUND_HALF_UP) == mart[statement.stem].quantize(cents, ROUND_HALF_UP)
        assert names[statement.stem] in text and f"{CYCLE} (01 Sep 2026" in text
        assert f'href="customer_bills/{statement.name}"' in html
    # Chinese names render as text, not as missing glyphs
    chinese = [customer for customer, name in names.items() if re.search(r"[\u4e00-\u9fff]", name or "")]
    assert chinese


def test_without_a_chart_file_the_default_chart_applies_and_the_pack_says_so(tmp_path, world_dir):
    inbox = tmp_path / "inbox"
    shutil.copytree(world_dir, inbox)
    (inbox / CHART).unlink()
    resources = pipeline_resources(tmp_path, inbox=inbox)
    result = dg.materialize(all_assets(), partition_key=partition_key(CYCLE), resources=resources)
    assert result.success
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("accounting_journal", "debits_equal_credits")] is True
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        assert con.execute("select count(*), count(*) filter (where source = 'default') "
                           "from core.chart_of_accounts").fetchone() == (10, 10)
        codes = dict(con.execute("select distinct account, account_code from marts.accounting_journal").fetchall())
    assert codes["revenue"] == "4000" and codes["huawei_payable"] == "2100"
    html = (resources["reports"].cycle_dir(CYCLE) / f"month_close_{CYCLE}.html").read_text(encoding="utf-8")
    assert f"No chart of accounts has been delivered ({CHART}): journal_{CYCLE}.csv uses the default" in html
