"""The daily flash of the open month, against staging tables created by the project's own DDL (read
through the marts.daily_spend model) and a previous month whose figures are worked out below."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.sql_models import run_model
from reports.daily_flash import render_daily_flash
from reports.flash_data import NoUsageExport, days_covered, load_flash_data
from reports.reconciliation_areas import API_NOT_CONFIGURED
from schemas.bill_cycle import BillCycle
from tests.unit.reconciliation_marts import BUDGET_DDL

D = Decimal
SQL = Path(__file__).parents[2] / "sql"

OPEN = "2026-04"
PREVIOUS = "2026-03"
OLD_EXPORT = "2026-04-19"
NEW_EXPORT = "2026-04-21"  # holds usage up to 2026-04-20: 20 days covered

ALPHA = ("cust-a", "Alpha Ltd")
BETA = ("cust-b", "Beta <b>Corp</b>")
FORMULA = ("cust/003", '=HYPERLINK("http://x","pay")')
DELTA = ("cust-d", None)  # new this month
ECHO = ("cust-e", None)  # spent in March only

ECS = "hws.service.type.ec2"
OBS = "hws.service.type.obs"


def _usage(export_date, customer, day, service, official):
    return (OPEN, export_date, customer[0], f"{day} 10:00:00+08", day, 1, service, D(official), D(0), D(official),
            f"customerUsage/customerUsageV2_x_{export_date}.tar.gz", "m1.csv", 1, "sha", "load-1")


# Month to date, newest export: Alpha 150.25, Beta 300, Formula 10, Delta 40 -> 500.25.
USAGE = [
    _usage(NEW_EXPORT, ALPHA, "2026-04-02", ECS, "100"),
    _usage(NEW_EXPORT, ALPHA, "2026-04-20", OBS, "50.25"),
    _usage(NEW_EXPORT, BETA, "2026-04-03", ECS, "300"),
    _usage(NEW_EXPORT, FORMULA, "2026-04-04", OBS, "10"),
    _usage(NEW_EXPORT, DELTA, "2026-04-05", ECS, "40"),
    _usage(OLD_EXPORT, ALPHA, "2026-04-02", ECS, "999"),  # superseded by the newer export
]

# Days 1-20 of March, expenditure lines: Alpha 100, Beta 400, Formula 10, Echo 70 -> 580.
BILL_LINES = [
    (ALPHA, "Expenditure", "2026-03-05", "100"),
    (ALPHA, "Expenditure", "2026-03-25", "500"),  # after day 20: outside the window
    (ALPHA, "Refund", "2026-03-06", "-20"),  # not an expenditure line
    (BETA, "Expenditure", "2026-03-10", "400"),
    (FORMULA, "Expenditure", "2026-03-20", "10"),  # day 20: inside
    (ECHO, "Expenditure", "2026-03-01", "70"),
]
EXPECTED_CHANGES = {  # customer -> (now, same days of March, change, change %)
    "cust-a": (D("150.25"), D("100"), D("50.25"), "50.25 %"),
    "cust-b": (D("300"), D("400"), D("-100"), "-25.00 %"),
    "cust/003": (D("10"), D("10"), D("0"), "0.00 %"),
    "cust-d": (D("40"), D("0"), D("40"), "new"),
    "cust-e": (D("0"), D("70"), D("-70"), "-100.00 %"),
}


def build_flash_warehouse(con: duckdb.DuckDBPyConnection, with_bill_file: bool = True,
                          with_budgets: bool = True) -> None:
    for schema in ("staging", "marts"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for model in ("usage_line", "bill_line"):
        con.execute((SQL / "staging" / f"{model}.sql").read_text(encoding="utf-8"))
    con.executemany(
        """INSERT INTO staging.usage_line (bill_cycle, export_date, customer_id, trade_time, trade_date_local,
               billing_mode, service_type_code, official_amount, discount_amount, amount_due, src_object, src_member,
               src_record, src_sha256, load_id) VALUES (?, ?, ?, ?::TIMESTAMPTZ, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        USAGE)
    if with_bill_file:
        con.executemany(
            """INSERT INTO staging.bill_line (bill_cycle, customer_id, customer_name, bill_type, billing_mode,
                   service_type_code, trade_id, trade_time, trade_date_local, official_amount, discount_amount,
                   amount_due, src_object, src_member, src_record, src_sha256, load_id)
               VALUES (?, ?, ?, ?, 1, ?, ?, ?::TIMESTAMPTZ, ?, ?, 0, ?, 'customerBill_202603.tar.gz', 'm.csv', ?,
                       'sha', 'load-0')""",
            [(PREVIOUS, customer[0], customer[1], bill_type, ECS, f"T-{index}", f"{day} 12:00:00+08", day,
              D(amount), D(amount), index) for index, (customer, bill_type, day, amount) in enumerate(BILL_LINES)])
    # names of customers without a budget come from the newest month close
    con.execute("""CREATE TABLE marts.customer_monthly_expenditure (bill_cycle VARCHAR, customer_id VARCHAR,
                       customer_name VARCHAR, service_type_code VARCHAR, service_type_name VARCHAR)""")
    con.executemany("INSERT INTO marts.customer_monthly_expenditure VALUES (?, ?, ?, ?, ?)", [
        ("2026-02", FORMULA[0], "Old name", ECS, "Old ECS name"),
        (PREVIOUS, FORMULA[0], FORMULA[1], ECS, "Elastic Cloud Server"),
        (PREVIOUS, FORMULA[0], FORMULA[1], OBS, "Object Storage Service"),
    ])
    if with_budgets:
        con.execute(BUDGET_DDL)
        con.executemany("INSERT INTO marts.budget_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                        "NULL, 30, false, '2026-04-21')", [
            (ALPHA[0], ALPHA[1], OPEN, "2026-04-21", 20, "monthly", D(200), D("150.25"), D("0.75125"), D("0.75"),
             D("225.375"), D("1.126875"), False, "alert_75", "amber"),
            (BETA[0], BETA[1], OPEN, "2026-04-21", 20, "monthly", D(250), D(300), D("1.2"), D(1),
             D(450), D("1.8"), False, "over_budget", "red"),
        ])
    # a view: rows the tests add to staging later show through it
    run_model(con, "marts", "daily_spend")


@pytest.fixture
def warehouse():
    con = duckdb.connect(":memory:")
    build_flash_warehouse(con)
    yield con
    con.close()


def _read_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row["customer_id"]: row for row in csv.DictReader(handle)}


def test_file_names_carry_the_newest_export_date(warehouse, tmp_path):
    report = render_daily_flash(warehouse, OPEN, tmp_path)
    assert [p.name for p in report.paths] == ["daily_flash_2026-04-21.html", "daily_flash_2026-04-21.csv"]
    assert str(report.export_date) == NEW_EXPORT
    html = report.html.read_text(encoding="utf-8")
    assert "usage up to 2026-04-20 (GMT+8), day 20 of 30" in html


def test_the_flash_of_an_account_labels_its_amounts_in_the_accounts_currency(warehouse, tmp_path):
    usd = render_daily_flash(warehouse, OPEN, tmp_path / "usd").html.read_text(encoding="utf-8")
    cny = render_daily_flash(warehouse, OPEN, tmp_path / "cny", currency="CNY").html.read_text(encoding="utf-8")
    assert "Amounts in USD at list price" in usd and "CNY" not in usd
    assert "Amounts in CNY at list price" in cny and "USD" not in cny
    assert cny.count("CNY ") == usd.count("USD ") > 3


def test_month_to_date_totals_and_forecast(warehouse):
    data = load_flash_data(warehouse, OPEN)
    assert data.days_covered == 20
    assert data.mtd_official_amount == D("500.25")  # the older export's 999 is not counted
    assert data.previous_official_amount == D("580")
    assert data.change_amount == D("-79.75")
    assert data.forecast_amount == D("750.375")  # 500.25 / 20 days x 30
    assert data.spending_customer_count == 4


def test_movers_against_the_same_days_of_the_bill_file(warehouse, tmp_path):
    data = load_flash_data(warehouse, OPEN)
    assert data.comparison.source == "bill_file"
    assert (str(data.comparison.first_day), str(data.comparison.last_day)) == ("2026-03-01", "2026-03-20")
    assert [row["customer_id"] for row in data.increases] == ["cust-a", "cust-d"]
    assert [row["customer_id"] for row in data.decreases] == ["cust-b", "cust-e"]
    by_customer = {row["customer_id"]: row for row in data.customers}
    for customer_id, (now, before, change, _) in EXPECTED_CHANGES.items():
        row = by_customer[customer_id]
        assert (row["mtd_official_amount"], row["previous_official_amount"], row["change_amount"]) == \
               (now, before, change), customer_id

    html = render_daily_flash(warehouse, OPEN, tmp_path).html.read_text(encoding="utf-8")
    movers = html[html.index('id="movers"'):html.index('id="customers"')]
    increases, decreases = movers.split("<h3>Decreases</h3>")
    assert increases.index("Alpha Ltd") < increases.index("cust-d")
    assert "50.25" in increases and "50.25 %" in increases and ">new<" in increases
    assert decreases.index("Beta &lt;b&gt;Corp&lt;/b&gt;") < decreases.index("cust-e")
    assert "-100.00" in decreases and "-25.00 %" in decreases and "-100.00 %" in decreases
    assert "cust/003" not in movers  # no change


def test_without_the_bill_file_the_previous_usage_export_is_used(tmp_path):
    con = duckdb.connect(":memory:")
    build_flash_warehouse(con, with_bill_file=False)
    # March's newest export is of April 1st (the whole month); days 21+ are outside the window
    con.executemany(
        """INSERT INTO staging.usage_line (bill_cycle, export_date, customer_id, trade_time, trade_date_local,
               billing_mode, service_type_code, official_amount, discount_amount, amount_due, src_object, src_member,
               src_record, src_sha256, load_id) VALUES (?, ?, ?, ?::TIMESTAMPTZ, ?, 1, ?, ?, 0, ?, 'o', 'm', 1, 's', 'l')""",
        [(PREVIOUS, "2026-04-01", ALPHA[0], "2026-03-02 10:00:00+08", "2026-03-02", ECS, D(120), D(120)),
         (PREVIOUS, "2026-04-01", ALPHA[0], "2026-03-28 10:00:00+08", "2026-03-28", ECS, D(900), D(900)),
         (PREVIOUS, "2026-03-15", ALPHA[0], "2026-03-02 10:00:00+08", "2026-03-02", ECS, D(5), D(5))])
    data = load_flash_data(con, OPEN)
    assert data.comparison.source == "usage_export"
    assert "usage export of 2026-04-01" in data.comparison.description
    by_customer = {row["customer_id"]: row for row in data.customers}
    assert by_customer["cust-a"]["previous_official_amount"] == D(120)
    assert by_customer["cust-a"]["change_amount"] == D("30.25")
    assert by_customer["cust-b"]["previous_official_amount"] == D(0)
    assert data.notes == []


def test_a_short_previous_export_is_flagged_and_no_previous_data_is_said(tmp_path):
    con = duckdb.connect(":memory:")
    build_flash_warehouse(con, with_bill_file=False)
    html = render_daily_flash(con, OPEN, tmp_path / "none").html.read_text(encoding="utf-8")
    assert "No data for 2026-03: neither its bill file nor a usage export is in the warehouse." in html
    con.execute("""INSERT INTO staging.usage_line (bill_cycle, export_date, customer_id, trade_time, trade_date_local,
                       billing_mode, service_type_code, official_amount, discount_amount, amount_due, src_object,
                       src_member, src_record, src_sha256, load_id)
                   VALUES (?, '2026-03-10', 'cust-a', '2026-03-02 10:00:00+08', '2026-03-02', 1, ?, 5, 0, 5,
                           'o', 'm', 1, 's', 'l')""", [PREVIOUS, ECS])
    html = render_daily_flash(con, OPEN, tmp_path / "short").html.read_text(encoding="utf-8")
    assert "holds usage up to day 9 only" in html


def test_budgets_first_over_75_and_not_available_without_the_api(warehouse, tmp_path):
    html = render_daily_flash(warehouse, OPEN, tmp_path / "a").html.read_text(encoding="utf-8")
    budgets = html[html.index('id="budgets"'):html.index('id="movers"')]
    assert budgets.index("Beta &lt;b&gt;Corp&lt;/b&gt;") < budgets.index("Alpha Ltd")  # 120 % before 75.13 %
    assert "120.00 %" in budgets and "75.13 %" in budgets
    html = render_daily_flash(warehouse, OPEN, tmp_path / "b", api_configured=False).html.read_text("utf-8")
    assert API_NOT_CONFIGURED[:1].upper() + API_NOT_CONFIGURED[1:] in html

    con = duckdb.connect(":memory:")
    build_flash_warehouse(con, with_budgets=False)  # an older warehouse: no budget mart at all
    html = render_daily_flash(con, OPEN, tmp_path / "c").html.read_text(encoding="utf-8")
    assert "Not available: this warehouse has no marts.budget_status" in html


def test_the_budget_card_counts_threshold_crossings_and_forecast_overruns(warehouse, tmp_path):
    # a third customer at 10 % so far, forecast at 130 % of its budget by month end
    warehouse.execute("INSERT INTO marts.budget_status VALUES ('cust-g', 'Gamma', ?, '2026-04-21', 20, 'monthly', "
                      "100, 10, 0.1, 0, 130, 1.3, false, 'forecast_over', 'amber', ?, 30, false, '2026-04-21')",
                      [OPEN, "refunds of USD 5.00 exceed the month's usage of USD 15.00"])
    html = render_daily_flash(warehouse, OPEN, tmp_path).html.read_text(encoding="utf-8")
    card = html[html.index('<div class="label">Budgets</div>'):]
    card = card[:card.index("</div></div>")]
    assert re.sub(r"<[^>]+>", " ", card).split() == (
        "Budgets 1 over budget 1 at 75 or 90 %, 1 more forecast over budget (of 3 customers)").split()
    # a row's explanation (here: refunds above the month's usage) is shown beside its status
    assert "refunds of USD 5.00 exceed the month&#39;s usage of USD 15.00" in html


def test_csv_has_every_customer_with_exact_figures_and_neutralised_text(warehouse, tmp_path):
    report = render_daily_flash(warehouse, OPEN, tmp_path)
    assert report.csv.read_bytes().startswith("\ufeff".encode("utf-8"))
    rows = _read_csv(report.csv)
    assert set(rows) == set(EXPECTED_CHANGES)
    assert rows["cust/003"]["customer_name"] == "'" + FORMULA[1]
    assert rows["cust-a"]["mtd_official_amount"] == "150.25000000"
    assert rows["cust-a"]["previous_same_days_official_amount"] == "100.00000000"
    assert rows["cust-a"]["change_ratio"] == "0.502500"
    assert rows["cust-b"]["utilisation_ratio"] == "1.200000" and rows["cust-b"]["threshold_crossed_ratio"] == "1.000000"
    assert rows["cust-d"]["change_ratio"] == "" and rows["cust-d"]["budget_amount"] == ""
    html = report.html.read_text(encoding="utf-8")
    assert "=HYPERLINK(&#34;http://x&#34;,&#34;pay&#34;)" in html and "<b>Corp" not in html


def test_rendering_twice_gives_identical_bytes(warehouse, tmp_path):
    first = render_daily_flash(warehouse, OPEN, tmp_path / "a")
    warehouse.execute("SET TimeZone = 'America/New_York'")
    second = render_daily_flash(warehouse, OPEN, tmp_path / "b")
    for one, two in zip(first.paths, second.paths, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.name


def test_a_cycle_without_usage_export_is_refused(warehouse, tmp_path):
    with pytest.raises(NoUsageExport):
        render_daily_flash(warehouse, "2026-05", tmp_path)
    with pytest.raises(ValueError):
        render_daily_flash(warehouse, "../2026-04", tmp_path)


@pytest.mark.parametrize(("export_date", "covered"), [
    ("2026-04-01", 0), ("2026-04-02", 1), ("2026-04-30", 29), ("2026-05-01", 30), ("2026-05-03", 30),
])
def test_days_covered_by_an_export(export_date, covered):
    from datetime import date
    assert days_covered(BillCycle.parse(OPEN), date.fromisoformat(export_date)) == covered


def test_a_rise_from_a_tiny_base_is_not_shown_as_an_absurd_percentage(warehouse, tmp_path):
    # Formula spent 5.00 in the same days of March and 1,718.00 now: +34,260 % would mean nothing
    warehouse.execute("UPDATE staging.bill_line SET official_amount = 5 WHERE customer_id = ?", [FORMULA[0]])
    warehouse.execute("UPDATE staging.usage_line SET official_amount = 1718 WHERE customer_id = ?", [FORMULA[0]])
    html = render_daily_flash(warehouse, OPEN, tmp_path).html.read_text(encoding="utf-8")
    increases = html[html.index('id="movers"'):html.index("<h3>Decreases</h3>")]
    row = increases[increases.index("=HYPERLINK"):]
    row = row[:row.index("</tr>")]
    assert re.findall(r'<td class="num">([^<]+)</td>', row) == ["1,718.00", "5.00", "1,713.00", "n/a"]
    assert "34,260" not in html
