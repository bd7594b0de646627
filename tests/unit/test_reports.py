"""Month-close rendering, against a small hand-made warehouse whose totals are worked out below."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.lib.warehouse import SQL_DIR
from reports import data as marts_data
from reports import render_month_close
from reports.formatting import format_change_percent, format_money, format_percent
from reports.reconciliation import API_NOT_CONFIGURED, load_reconciliation_data
from reports.reconciliation_status import glance_level
from reports.safety import neutralise_spreadsheet_text, safe_file_stem, unique_file_stems
from reports.xlsx import workbook_creation_date
from schemas.warehouse_contract import column_note
from tests.unit.reconciliation_marts import create_reconciliation_marts, fill_reconciliation_marts, insert_findings

CYCLE = "2026-03"
EMPTY_CYCLE = "2026-04"
NO_FILE_NOTE = ("No partner bill file has been delivered for 2026-04 yet: the month is open or late "
                "(HUAWEI CLOUD delivers it before 12:00 GMT+8 on the 5th of the next month).")
D = Decimal

# Three customers: a Chinese name; a name with a comma, quotes and markup; a formula as a name
# (with an id that is not file-name safe).
CHINESE = ("c0a1b2c3d4e5f60718293a4b5c6d7e8f", "上海云帆科技有限公司")
ACME = ("cust-002", 'Acme, "Best" Widgets <script>alert(1)</script>')
FORMULA = ("cust/003", '=HYPERLINK("http://x","pay")')
PARTNER = ("partner-01", "Example Reseller Ltd")

ECS = ("hws.service.type.ec2", "Elastic Cloud Server")
OBS = ("hws.service.type.obs", "Object Storage Service")
RDS = ("hws.service.type.rds", "Relational Database Service")

BILL_LINE_DDL = """
CREATE TABLE marts.customer_bill_line (
  bill_cycle VARCHAR, customer_id VARCHAR, customer_name VARCHAR, partner_id VARCHAR,
  trade_id VARCHAR, original_order_id VARCHAR, trade_time_local VARCHAR, bill_type VARCHAR,
  billing_mode SMALLINT, service_type_code VARCHAR, service_type_name VARCHAR,
  resource_type_name VARCHAR, product_name VARCHAR, region_code VARCHAR, resource_id VARCHAR,
  resource_name VARCHAR, usage_amount DECIMAL(28,8), usage_unit VARCHAR,
  official_amount DECIMAL(20,8), discount_rate DECIMAL(9,6), agreement_rule VARCHAR,
  customer_charge_amount DECIMAL(20,8), amount_due DECIMAL(20,8), src_member VARCHAR,
  src_record BIGINT)
"""

EXPENDITURE_DDL = """
CREATE TABLE marts.customer_monthly_expenditure (
  bill_cycle VARCHAR, customer_id VARCHAR, customer_name VARCHAR, partner_id VARCHAR,
  partner_name VARCHAR, service_type_code VARCHAR, service_type_name VARCHAR,
  line_count BIGINT, expenditure_line_count BIGINT, refund_line_count BIGINT,
  adjustment_line_count BIGINT,
  official_amount DECIMAL(20,8), discount_amount DECIMAL(20,8), truncated_amount DECIMAL(20,8),
  amount_due DECIMAL(20,8), cash_amount DECIMAL(20,8), credit_amount DECIMAL(20,8),
  cash_coupon_amount DECIMAL(20,8), voucher_amount DECIMAL(20,8),
  stored_card_amount DECIMAL(20,8), coupon_paid_amount DECIMAL(20,8), debt_amount DECIMAL(20,8),
  refund_amount DECIMAL(20,8), adjustment_amount DECIMAL(20,8),
  customer_charge_amount DECIMAL(20,8), margin_amount DECIMAL(20,8),
  unmatched_agreement_line_count BIGINT)
"""

DATA_QUALITY_DDL = """
CREATE TABLE marts.data_quality (
  source VARCHAR, object_key VARCHAR, member VARCHAR, bill_cycle VARCHAR, rows_read BIGINT,
  rows_loaded BIGINT, rows_quarantined BIGINT, findings_count BIGINT, status VARCHAR,
  first_error VARCHAR, landed_at TIMESTAMPTZ)
"""

FINDINGS_DDL = """
CREATE TABLE audit.findings (
  rule_id VARCHAR, severity VARCHAR, bill_cycle VARCHAR, customer_id VARCHAR, reference VARCHAR,
  expected DECIMAL(20,8), actual DECIMAL(20,8), difference_amount DECIMAL(20,8), message VARCHAR,
  object_key VARCHAR, member VARCHAR, line_number BIGINT)
"""

QUARANTINE_DDL = """
CREATE TABLE audit.quarantine (
  load_id VARCHAR, source VARCHAR, object_key VARCHAR, member VARCHAR, bill_cycle VARCHAR,
  line_number BIGINT, rule_id VARCHAR, reason VARCHAR, raw_record VARCHAR)
"""

RESTATEMENT_DDL = """
CREATE TABLE marts.restatement (
  bill_cycle VARCHAR, object_key VARCHAR, previous_etag VARCHAR, new_etag VARCHAR,
  restated_at TIMESTAMPTZ, customer_id VARCHAR, lines_added BIGINT, lines_removed BIGINT,
  lines_changed BIGINT, previous_amount_due DECIMAL(20,8), new_amount_due DECIMAL(20,8),
  amount_due_delta DECIMAL(20,8))
"""

MARCH_FILE = "customerBill/customerBill_202603.tar.gz"
MARCH_MEMBER = "customerBill_202603_0001.csv"
FEBRUARY_FILE = "customerBill/customerBill_202602.tar.gz"
AGREEMENTS_FILE = "agreements/agreements_20260301.csv"


def _line(customer, trade_id, time, bill_type, service, official, rate, charge, due,
          original_order=None, resource="vm-01"):
    customer_id, customer_name = customer
    return (CYCLE, customer_id, customer_name, PARTNER[0], trade_id, original_order, time,
            bill_type, 1, service[0], service[1], "VM", f"{service[1]} product", "ap-southeast-1",
            f"res-{resource}", resource, D("10.5"), "Hour", D(official), D(rate),
            "agreement-1", D(charge), D(due), "customerBill_202603_0001.csv", int(trade_id[2:]))


# HUAWEI CLOUD gives 30 % (25 % on RDS) off list; the customers agreed 10 %, 5 % and 0 % off.
BILL_LINES = [
    _line(CHINESE, "T-100", "2026-03-03 10:00:00", "Expenditure", ECS, "1000", "0.10", "900",
          "700"),
    _line(CHINESE, "T-101", "2026-03-04 11:00:00", "Expenditure", OBS, "250.50", "0.10", "225.45",
          "175.35", resource="bucket"),
    _line(CHINESE, "T-102", "2026-03-20 09:30:00", "Refund", ECS, "-100", "0.10", "-90", "-70",
          original_order="T-100"),
    _line(ACME, "T-200", "2026-03-05 08:00:00", "Expenditure", RDS, "2000", "0.05", "1900", "1500",
          resource="db"),
    _line(ACME, "T-201", "2026-03-06 08:00:00", "Expenditure", ECS, "123.45678901", "0.05",
          "117.28394956", "86.41975231"),
    _line(FORMULA, "T-300", "2026-03-07 12:00:00", "Expenditure", OBS, "10", "0", "10", "7",
          resource="=cmd|' /C calc'!A0"),
    _line(FORMULA, "T-301", "2026-03-08 12:00:00", "Expenditure", OBS, "5", "0", "5", "3.50",
          resource="-backup"),
]


def _expenditure(customer, service, lines, exp, ref, adj, official, discount, due, cash,
                 cash_coupon, voucher, stored, refund, adjustment, charge, margin, unmatched=0):
    customer_id, customer_name = customer
    coupons = D(cash_coupon) + D(voucher) + D(stored)
    return (CYCLE, customer_id, customer_name, PARTNER[0], PARTNER[1], service[0], service[1],
            lines, exp, ref, adj, D(official), D(discount), D(0), D(due), D(cash), D(0),
            D(cash_coupon), D(voucher), D(stored), coupons, D(0), D(refund), D(adjustment),
            D(charge), D(margin), unmatched)


# margin = customer charge - (amount due + refunds); ACME pays an adjustment of -50 on RDS.
EXPENDITURE = [
    _expenditure(CHINESE, ECS, 2, 1, 1, 0, "1000", "300", "700", "600", "100", "0", "0",
                 "-70", "0", "810", "180"),
    _expenditure(CHINESE, OBS, 1, 1, 0, 0, "250.50", "75.15", "175.35", "175.35", "0", "0", "0",
                 "0", "0", "225.45", "50.10"),
    _expenditure(ACME, RDS, 2, 1, 0, 1, "2000", "500", "1500", "1400", "0", "100", "0",
                 "0", "-50", "1900", "400"),
    _expenditure(ACME, ECS, 1, 1, 0, 0, "123.45678901", "37.03703670", "86.41975231",
                 "86.41975231", "0", "0", "0", "0", "0", "117.28394956", "30.86419725"),
    _expenditure(FORMULA, OBS, 2, 2, 0, 0, "15", "4.50", "10.50", "0", "0", "0", "10.50",
                 "0", "0", "15", "4.50", unmatched=2),
]

# Worked out by hand from the rows above.
EXPECTED_HEADLINES = {
    "list price": "USD 3,388.96",  # 1000 + 250.50 + 2000 + 123.45678901 + 15
    "HUAWEI discount": "USD -916.69",  # shown as a deduction: 300 + 75.15 + 500 + 37.0370367 + 4.5
    "consumption amount due": "USD 2,472.27",  # 2472.26975231
    "amount due to HUAWEI CLOUD": "USD 2,352.27",  # 2472.26975231 - 70 - 50
    "paid by coupons": "USD 210.50",  # 100 + 100 + 10.50
    "refunds": "USD -70.00",
    "adjustments": "USD -50.00",
    "billed to customers": "USD 3,067.73",  # 810 + 225.45 + 1900 + 117.28394956 + 15
    "margin": "USD 665.46",  # 180 + 50.10 + 400 + 30.86419725 + 4.50
    "margin %": "21.69 %",  # 665.46419725 / 3067.73394956
}


def build_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Create the five tables the reports read and fill them with the fixture rows."""
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE SCHEMA audit")
    for ddl in (BILL_LINE_DDL, EXPENDITURE_DDL, DATA_QUALITY_DDL, FINDINGS_DDL, QUARANTINE_DDL, RESTATEMENT_DDL):
        con.execute(ddl)
    con.execute((SQL_DIR / "audit" / "held_deliveries.sql").read_text(encoding="utf-8"))
    con.executemany(f"INSERT INTO marts.customer_bill_line VALUES ({', '.join(['?'] * 25)})",
                    BILL_LINES)
    con.executemany(
        f"INSERT INTO marts.customer_monthly_expenditure VALUES ({', '.join(['?'] * 27)})",
        EXPENDITURE)
    con.executemany(
        "INSERT INTO marts.data_quality VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMPTZ)",
        [
            ("customerBill", MARCH_FILE, None, CYCLE, 10, 8, 2, 1, "quarantined_rows",
             "line 9: amount due does not add up", "2026-04-05 03:00:00+00"),
            ("customerBill", MARCH_FILE, MARCH_MEMBER, CYCLE, 10, 8, 2, 1, "quarantined_rows",
             "line 9: amount due does not add up", "2026-04-05 03:00:00+00"),
            ("agreements", AGREEMENTS_FILE, None, None, 3, 3, 0, 0, "ok", None,
             "2026-03-01 01:00:00+00"),
            ("customerBill", FEBRUARY_FILE, None, "2026-02", 4, 4, 0, 0, "ok", None,
             "2026-03-05 03:00:00+00"),
        ])
    con.executemany(
        "INSERT INTO audit.findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("DISCOUNT_RATE_MISMATCH", "warning", CYCLE, ACME[0], "T-201", D("0.05"), D("0.04"),
             D("0.01"), "customer discount differs from the agreement", MARCH_FILE, MARCH_MEMBER,
             6),
            ("FEBRUARY_ONLY_RULE", "error", "2026-02", ACME[0], "T-9", D(1), D(2), D(1),
             "belongs to February", FEBRUARY_FILE, None, 2),
        ])
    con.executemany(
        "INSERT INTO audit.quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("load-0001", "customerBill", MARCH_FILE, MARCH_MEMBER, CYCLE, 9, "AMOUNT_IDENTITY",
             "amount_due is not official - discount - truncated",
             '{"Customer ID": "cust-009", "Amount Due (USD)": "=1+1"}'),
            # Its bill cycle could not be read, so only its source object ties it to March.
            ("load-0001", "customerBill", MARCH_FILE, MARCH_MEMBER, None, 10, "BILL_CYCLE_FORMAT",
             "Billing Cycle is not YYYY-MM", '{"Billing Cycle": "March"}'),
        ])


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    build_warehouse(con)
    yield con
    con.close()


@pytest.fixture
def report(warehouse, tmp_path):
    return render_month_close(warehouse, CYCLE, tmp_path / CYCLE,
                              notes=["BSS API not configured: tie-outs skipped"])


def _html(report) -> str:
    return report.html.read_text(encoding="utf-8")


def _mart_charge_by_customer(con) -> dict[str, Decimal]:
    rows = con.execute(
        "SELECT customer_id, sum(customer_charge_amount) FROM marts.customer_monthly_expenditure "
        "WHERE bill_cycle = ? GROUP BY customer_id", [CYCLE]).fetchall()
    return dict(rows)


# --------------------------------------------------------------------------------------- HTML


def test_html_shows_headline_totals_worked_out_from_the_fixture(report):
    html = _html(report)
    for name, expected in EXPECTED_HEADLINES.items():
        assert expected in html, f"{name}: {expected} missing"


def test_html_escapes_text_from_the_data(report):
    html = _html(report)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "=HYPERLINK(&#34;http://x&#34;,&#34;pay&#34;)" in html
    assert "上海云帆科技有限公司" in html


def test_html_is_self_contained(report):
    html = _html(report)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html
    assert "url(" not in html
    assert not re.search(r"""(?:src|href|xlink:href|action)\s*=\s*["']?\s*(?:https?:)?//""",
                         html, re.IGNORECASE)
    # The only "http" on the page is the escaped customer name from the data.
    assert html.count("http") == html.count("&#34;http://x&#34;")
    assert "<svg" in html and html.count('<rect class="bar') == 3  # one bar per service


def test_notes_are_shown_before_the_figures(report):
    html = _html(report)
    assert "Notes for this close" in html
    note = html.index("BSS API not configured: tie-outs skipped")
    assert note < html.index('id="totals"')


def test_data_quality_section_lists_the_cycle_only(report):
    html = _html(report).replace("<wbr>", "")  # rule ids may wrap after their dots and underscores
    assert MARCH_MEMBER in html
    assert AGREEMENTS_FILE in html  # not month-bound: shown in every cycle
    assert FEBRUARY_FILE not in html
    assert "DISCOUNT_RATE_MISMATCH" in html and "FEBRUARY_ONLY_RULE" not in html
    assert "amount_due is not official - discount - truncated" in html
    assert "2 bill lines without a matching customer agreement" in html
    assert "BILL_CYCLE_FORMAT" in html  # no cycle of its own, but from the March file
    assert "2 rows quarantined" in html


def test_top_customers_are_ordered_by_amount_billed(report):
    html = _html(report)
    section = html[html.index('id="customers"'):html.index('id="services"')]
    positions = [section.index(name) for name in
                 ("Acme, &#34;Best&#34;", "上海云帆科技有限公司", "=HYPERLINK")]
    assert positions == sorted(positions)  # 2,017.28 > 1,035.45 > 15.00


def test_empty_month_still_renders_and_says_so(warehouse, tmp_path):
    result = render_month_close(warehouse, EMPTY_CYCLE, tmp_path / EMPTY_CYCLE, notes=[NO_FILE_NOTE])
    html = result.html.read_text(encoding="utf-8")
    assert f"No bill lines for {EMPTY_CYCLE}" in html
    assert AGREEMENTS_FILE in html
    assert not result.has_lines
    assert result.customer_bills == {}
    lines = (tmp_path / EMPTY_CYCLE / "customer_bill_line.csv").read_text("utf-8").splitlines()
    assert len(lines) == 1  # header only


def _cells(sheet, max_row=None):
    return [cell for row in sheet.iter_rows(max_row=max_row) for cell in row if cell.value is not None]


def test_the_summary_of_a_month_without_a_bill_file_says_so_at_the_top_and_shows_no_zero_totals(
        warehouse, tmp_path):
    result = render_month_close(warehouse, EMPTY_CYCLE, tmp_path / EMPTY_CYCLE, notes=[NO_FILE_NOTE])
    workbook = openpyxl.load_workbook(result.xlsx)
    summary = workbook["Summary"]
    assert summary["A1"].value == f"{EMPTY_CYCLE} cannot be closed yet: its bill file has not been delivered."
    top = [cell.value for cell in _cells(summary, max_row=8)]
    assert NO_FILE_NOTE in top and f"No bill lines for {EMPTY_CYCLE}: there are no totals to show. " \
        "They appear here once the month's bill file is loaded." in top
    texts = [cell.value for cell in _cells(summary)]
    assert not {"Consumption at list price", "Margin", "Customers", "Bill lines"} & set(texts)
    # the only numbers left are counts of what was received; no money, no zero totals
    assert [(cell.value, cell.number_format) for cell in _cells(summary) if cell.data_type == "n"] == [
        (0, "#,##0"), (0, "#,##0")]  # quarantined rows, validation findings
    for name in ("Customers", "Services"):
        assert [cell.value for cell in _cells(workbook[name]) if cell.row > 1] == [f"No bill lines for {EMPTY_CYCLE}."]


# --------------------------------------------------------------------------------------- XLSX


def _header_row(sheet) -> int:
    """The row of the sheet's main table header: the one just above the frozen pane, which its
    autofilter starts on (row 1 everywhere but on Reconciliation, under the status table)."""
    frozen = openpyxl.utils.cell.coordinate_from_string(sheet.freeze_panes)
    assert frozen[0] == "A", sheet.title
    header = frozen[1] - 1
    assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith(f"A{header}:"), sheet.title
    return header


def test_xlsx_sheets_have_frozen_bold_headers_and_filters(report):
    workbook = openpyxl.load_workbook(report.xlsx)
    assert workbook.sheetnames[:5] == ["Summary", "Customers", "Services", "Customer bills",
                                       "Data quality"]
    for sheet in workbook.worksheets[1:]:  # the Summary is a statement, not a table to filter
        expected_header = 8 if sheet.title == "Reconciliation" else 1  # 5 areas, a blank row
        assert _header_row(sheet) == expected_header, sheet.title
        assert sheet[f"A{expected_header}"].font.bold, sheet.title


def test_xlsx_money_is_numeric_and_text_is_never_a_formula(report, warehouse):
    workbook = openpyxl.load_workbook(report.xlsx)
    customers = workbook["Customers"]
    header = [cell.value for cell in customers[1]]
    id_column = header.index("Customer ID")
    charge_column = header.index("Billed to customers")
    expected = _mart_charge_by_customer(warehouse)
    seen = {}
    for row in customers.iter_rows(min_row=2, max_row=4):
        charge = row[charge_column]
        assert charge.data_type == "n" and charge.number_format == "#,##0.00"
        assert row[id_column].data_type == "s"
        seen[row[id_column].value] = charge.value
    assert seen == {
        "c0a1b2c3d4e5f60718293a4b5c6d7e8f": float(expected[CHINESE[0]]),
        "cust-002": float(expected[ACME[0]]),
        "cust/003": float(expected[FORMULA[0]]),
    }

    names = [cell for sheet in workbook.worksheets for row in sheet.iter_rows()
             for cell in row if isinstance(cell.value, str) and "HYPERLINK" in cell.value]
    assert names and all(cell.value == "'" + FORMULA[1] and cell.data_type == "s"
                         for cell in names)
    assert not any(cell.data_type == "f" for sheet in workbook.worksheets
                   for row in sheet.iter_rows() for cell in row)

    bills = workbook["Customer bills"]
    bill_header = [cell.value for cell in bills[1]]
    refund = next(row for row in bills.iter_rows(min_row=2)
                  if row[bill_header.index("Bill type")].value == "Refund")
    amount = refund[bill_header.index("Billed to customer")]
    assert amount.value == -90 and amount.data_type == "n"  # negative stays a number
    summary = workbook["Summary"]
    (list_price,) = [cell for cell in _cells(summary) if cell.value == "Consumption at list price"]
    amount = summary.cell(row=list_price.row, column=2)
    assert amount.value == pytest.approx(3388.95678901, abs=1e-9) and amount.number_format == "#,##0.00"
    assert summary.cell(row=list_price.row - 1, column=1).value == "Item"
    assert summary.cell(row=list_price.row - 1, column=1).font.bold


def test_xlsx_creation_date_comes_from_the_bill_cycle_not_the_clock(report):
    # Rendering twice within one second would not catch a "now" timestamp; check the value.
    assert openpyxl.load_workbook(report.xlsx).properties.created == datetime(2026, 4, 1)
    assert workbook_creation_date("2026-12") == datetime(2027, 1, 1)


# ---------------------------------------------------------------------------------------- CSV


def _read_bill(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_each_customer_bill_adds_up_to_the_mart(report, warehouse):
    expected = _mart_charge_by_customer(warehouse)
    assert set(report.customer_bills) == set(expected)
    assert report.customer_bills[FORMULA[0]].name == "cust_003.csv"
    for customer_id, path in report.customer_bills.items():
        rows = _read_bill(path)
        *lines, total = rows
        assert total["Trade Time (GMT+8)"] == "TOTAL"
        assert sum(D(line["Charge (USD)"]) for line in lines) == expected[customer_id]
        assert D(total["Charge (USD)"]) == expected[customer_id]
        assert "amount_due" not in ",".join(rows[0])  # the partner's cost stays internal


def test_bill_text_is_neutralised_and_numbers_are_not(report):
    rows = _read_bill(report.customer_bills[FORMULA[0]])
    assert [row["Resource Name"] for row in rows[:-1]] == ["'=cmd|' /C calc'!A0", "'-backup"]
    refund = next(row for row in _read_bill(report.customer_bills[CHINESE[0]])
                  if row["Bill Type"] == "Refund")
    assert refund["Charge (USD)"] == "-90.00000000"


def _mart_lines(con) -> list[tuple]:
    return con.execute("SELECT * FROM marts.customer_bill_line WHERE bill_cycle = ? "
                       "ORDER BY customer_id, trade_time_local, trade_id, src_member, src_record", [CYCLE]).fetchall()


def test_the_all_lines_parquet_file_holds_every_line_of_the_mart_typed(report, warehouse):
    path = report.bill_lines_parquet
    assert path.name == "customer_bill_line.parquet"
    rows = warehouse.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    assert rows == _mart_lines(warehouse)  # same rows, same order, Decimal amounts to the 8th decimal
    charged = warehouse.execute("SELECT sum(customer_charge_amount), count(*) FROM read_parquet(?)",
                                [str(path)]).fetchone()
    assert charged == (sum(_mart_charge_by_customer(warehouse).values()), len(rows))
    types = dict(warehouse.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
                                   [str(path)]).fetchall())
    assert [types[c] for c in ("official_amount", "customer_charge_amount", "discount_rate", "src_record")] == [
        "DECIMAL(20,8)", "DECIMAL(20,8)", "DECIMAL(9,6)", "BIGINT"]


def test_the_all_lines_csv_is_written_only_when_the_month_fits_a_spreadsheet(warehouse, tmp_path, monkeypatch):
    from reports import csv_export

    lines = len(_mart_lines(warehouse))
    out = tmp_path / CYCLE
    monkeypatch.setattr(csv_export, "ALL_LINES_CSV_MAX_ROWS", lines)  # exactly at the limit: written
    at_limit = render_month_close(warehouse, CYCLE, out)
    with at_limit.csv_by_mart["customer_bill_line"].open(encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == lines
    assert "and in <code>customer_bill_line.csv</code>" in at_limit.html.read_text(encoding="utf-8")

    monkeypatch.setattr(csv_export, "ALL_LINES_CSV_MAX_ROWS", lines - 1)  # one line more than a sheet holds
    above = render_month_close(warehouse, CYCLE, out)
    assert not (out / "customer_bill_line.csv").exists()  # the earlier, smaller month's copy is gone too
    assert "customer_bill_line" not in above.csv_by_mart
    assert warehouse.execute("SELECT count(*) FROM read_parquet(?)", [str(above.bill_lines_parquet)]
                             ).fetchone() == (lines,)
    for customer_id, expected in _mart_charge_by_customer(warehouse).items():  # the bills are all there
        assert D(_read_bill(above.customer_bills[customer_id])[-1]["Charge (USD)"]) == expected
    page = above.html.read_text(encoding="utf-8").split('id="all-lines-files"')[1].split("</span>")[0]
    page = re.sub(r"\s+", " ", page)
    assert f"is written only for a month of at most {lines - 1:,} lines" in page
    assert not [p for p in out.rglob("*.tmp")]


def test_mart_csvs_keep_full_precision(report):
    assert set(report.csv_by_mart) == {"customer_monthly_expenditure", "customer_bill_line",
                                       "data_quality", "findings", "quarantine", "restatement"}
    with report.csv_by_mart["customer_monthly_expenditure"].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(EXPENDITURE)
    acme_ecs = next(r for r in rows if r["customer_id"] == ACME[0] and
                    r["service_type_code"] == ECS[0])
    assert acme_ecs["official_amount"] == "123.45678901"
    assert acme_ecs["truncated_amount"] == "0.00000000"
    formula = next(r for r in rows if r["customer_id"] == FORMULA[0])
    assert formula["customer_name"] == "'" + FORMULA[1]
    with report.csv_by_mart["data_quality"].open(encoding="utf-8") as handle:
        quality = list(csv.DictReader(handle))
    assert {r["object_key"] for r in quality} == {MARCH_FILE, AGREEMENTS_FILE}
    assert quality[0]["landed_at"] == "2026-03-01 01:00:00+00:00"  # agreements sort first
    with report.csv_by_mart["quarantine"].open(encoding="utf-8") as handle:
        quarantine = list(csv.DictReader(handle))
    assert [r["rule_id"] for r in quarantine] == ["AMOUNT_IDENTITY", "BILL_CYCLE_FORMAT"]
    assert quarantine[1]["bill_cycle"] == ""


# ----------------------------------------------------------------------------- determinism


def _file_bytes(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_rendering_twice_gives_identical_files(warehouse, tmp_path):
    first = render_month_close(warehouse, CYCLE, tmp_path / "a", notes=["note"])
    # A different session time zone must not change anything either.
    warehouse.execute("SET TimeZone = 'Asia/Shanghai'")
    second = render_month_close(warehouse, CYCLE, tmp_path / "b", notes=["note"])
    first_files, second_files = _file_bytes(tmp_path / "a"), _file_bytes(tmp_path / "b")
    # csv exports, the all-lines Parquet file, html + xlsx, three bills and their statements
    assert len(first_files) == 6 + 1 + 2 + 3 + 3
    assert first_files == second_files
    assert [p.name for p in first.paths] == [p.name for p in second.paths]


def test_rerender_replaces_files_and_drops_stale_bills(warehouse, tmp_path):
    out = tmp_path / CYCLE
    stale = out / "customer_bills" / "gone-customer.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    render_month_close(warehouse, CYCLE, out)
    assert not stale.exists()
    assert not [p for p in out.rglob("*.tmp")]


def test_renders_inside_the_callers_open_transaction(warehouse, tmp_path):
    warehouse.execute("BEGIN TRANSACTION")
    warehouse.execute("UPDATE marts.customer_monthly_expenditure SET customer_name = 'Renamed' "
                      "WHERE customer_id = ?", [ACME[0]])
    result = render_month_close(warehouse, CYCLE, tmp_path / CYCLE)
    assert "Renamed" in result.html.read_text(encoding="utf-8")  # sees uncommitted work
    warehouse.execute("ROLLBACK")  # and leaves the caller's transaction to the caller


# ------------------------------------------------------------------------------- helpers


def test_invalid_bill_cycle_is_refused(warehouse, tmp_path):
    for cycle in ("2026-3", "2026-13", "../2026-03", "2026-03 "):
        with pytest.raises(ValueError):
            render_month_close(warehouse, cycle, tmp_path)


@pytest.mark.parametrize(("text", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("Acme", "Acme"), ("", ""), ("a=b", "a=b"),
])
def test_neutralise_spreadsheet_text(text, expected):
    assert neutralise_spreadsheet_text(text) == expected


def test_file_names_are_sanitised_and_never_collide():
    assert safe_file_stem("cust/003") == "cust_003"
    assert safe_file_stem("../../etc") == ".._.._etc"
    assert safe_file_stem("..") == "__"
    assert safe_file_stem("客户1") == "__1"
    stems = unique_file_stems(["a/b", "a_b", "ABC", "abc"])
    assert len({stem.casefold() for stem in stems.values()}) == 4
    assert stems["a/b"] == "a_b" and stems["ABC"] == "ABC"


def test_money_formatting_rounds_half_up_and_has_no_negative_zero():
    assert format_money(D("12345.675")) == "12,345.68"
    assert format_money(D("-0.004")) == "0.00"
    assert format_money(D("-1234.5")) == "-1,234.50"
    assert format_percent(None) == "n/a"


@pytest.mark.slow
def test_reports_does_not_import_the_pipeline_layers():
    code = ("import sys, reports; "
            "layers = ('dagster', 'pipelines', 'sandbox'); "
            "sys.exit(any(m.split('.')[0] in layers for m in sys.modules))")
    project_root = Path(__file__).parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=project_root).returncode == 0


def test_a_restatement_is_shown_with_its_changes_per_customer(warehouse, tmp_path):
    warehouse.execute(
        "INSERT INTO marts.restatement VALUES (?, ?, 'etag-1', 'etag-2', TIMESTAMPTZ '2026-04-07 03:00:00+00', "
        "?, 1, 0, 2, 10.00000000, 22.50000000, 12.50000000)", [CYCLE, MARCH_FILE, ACME[0]])
    report = render_month_close(warehouse, CYCLE, tmp_path / CYCLE)
    html = _html(report)
    assert 'id="restatements"' in html and "2026-04-07 03:00" in html and "12.50" in html
    sheet = openpyxl.load_workbook(report.xlsx)["Restatements"]
    assert [c.value for c in sheet[2]][5:] == [ACME[0], 1, 0, 2, 10, 22.5, 12.5]


def test_a_held_delivery_is_shown_at_the_top_of_the_page_and_the_summary_sheet(warehouse, tmp_path):
    message = f"{MARCH_FILE} (ETag e-2) is held: it would remove 10 of 10 lines of {CYCLE}; the month keeps ..."
    warehouse.execute(
        """INSERT INTO audit.held_deliveries VALUES ('customerBill', ?, 'e-2', 'sha', ?, 'e-1', NULL,
               'HOLD.LINE_DROP', 'it would remove 10 of 10 lines', ?, 10, 0, 10, 0, 'record 1: amount due is not a decimal',
               '{}', now(), NULL, NULL)""",
        [MARCH_FILE, CYCLE, message])
    # a released hold and another month's hold are not this month's
    warehouse.execute(
        """INSERT INTO audit.held_deliveries VALUES ('customerBill', ?, 'e-0', 'sha', ?, 'e-1', NULL,
               'HOLD.LINE_DROP', 'r', 'released one', 0, 0, 0, 0, NULL, '{}', now(), now(), 'me'),
              ('customerBill', 'customerBill/customerBill_202602.tar.gz', 'e-9', 'sha', '2026-02', 'e-8', NULL,
               'HOLD.LINE_DROP', 'r', 'february one', 0, 0, 0, 0, NULL, '{}', now(), NULL, NULL)""", [MARCH_FILE, CYCLE])
    report = render_month_close(warehouse, CYCLE, tmp_path / CYCLE)
    html = _html(report)
    assert html.index('id="held"') < html.index('id="reconciliation"')
    assert html.count("is held:") == 1 and "released one" not in html and "february one" not in html
    assert "10 rows read, 10 of them quarantined; first problem: record 1: amount due is not a decimal" in html
    assert html.index('id="verdict"') < html.index('id="held"')
    summary = openpyxl.load_workbook(report.xlsx)["Summary"]
    column = [summary.cell(row, 1).value for row in range(1, 12)]
    # the verdict, then the held delivery, both above the statement
    assert column[2:4] == ["Held deliveries: this month's figures do not include them", message]
    assert column.index("Item") > 3


def test_no_restatement_section_without_a_redelivery(report):
    assert 'id="restatements"' not in _html(report)


def test_a_large_month_lists_customer_bills_per_service_in_the_workbook(warehouse, tmp_path, monkeypatch):
    import reports.xlsx

    monkeypatch.setattr(reports.xlsx, "LINE_SHEET_LIMIT", 1)
    report = render_month_close(warehouse, CYCLE, tmp_path / CYCLE)
    workbook = openpyxl.load_workbook(report.xlsx)
    bills = workbook["Customer bills"]
    header = [cell.value for cell in bills[1]]
    assert header[:4] == ["Customer ID", "Customer name", "Service type code", "Service"]
    rows = warehouse.execute("SELECT count(*) FROM marts.customer_monthly_expenditure WHERE bill_cycle = ?",
                             [CYCLE]).fetchone()[0]
    assert bills.max_row == 1 + rows
    charged = sum(row[header.index("Billed to customer")].value for row in bills.iter_rows(min_row=2))
    assert charged == pytest.approx(float(sum(_mart_charge_by_customer(warehouse).values())), abs=1e-6)
    summary_texts = [c.value for row in workbook["Summary"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any("shows each customer's bill per service" in text for text in summary_texts)


# ------------------------------------------------------------------------------ reconciliation

OPEN_MONTH = EMPTY_CYCLE  # the month the coupon mart was read in
RECON_CSVS = ["reconciliation_findings", "partner_bill_tieout", "customer_bill_tieout",
              "incentive_reconciliation", "budget_status", "coupon_status"]
RECON_SHEETS = ["Reconciliation", "Tie-out", "Discount audit", "Incentives", "Budgets", "Coupons"]
NEW_AREAS = ("tieout", "discount", "incentive", "budget", "coupon")


@pytest.fixture
def recon_warehouse(warehouse):
    create_reconciliation_marts(warehouse)
    fill_reconciliation_marts(warehouse, CYCLE, OPEN_MONTH,
                              {"chinese": CHINESE, "acme": ACME, "formula": FORMULA})
    return warehouse


@pytest.fixture
def recon_report(recon_warehouse, tmp_path):
    return render_month_close(recon_warehouse, CYCLE, tmp_path / CYCLE, notes=["a note"],
                              api_configured=True)


def _levels(con, api_configured=True, cycle=CYCLE) -> dict[str, str]:
    data = load_reconciliation_data(con, cycle, api_configured)
    return {status.area.key: status.level for status in data.statuses}


def _make_clean(con) -> None:
    """Every tie-out and incentive line matched, no finding."""
    con.execute("DELETE FROM marts.reconciliation_findings")
    con.execute("UPDATE marts.partner_bill_tieout SET api_amount = file_amount, difference_amount = 0, "
                "status = 'matched'")
    con.execute("UPDATE marts.customer_bill_tieout SET api_amount = coalesce(file_amount, 0), "
                "file_amount = coalesce(file_amount, 0), difference_amount = 0, status = 'matched'")
    con.execute("UPDATE marts.incentive_reconciliation SET status = 'matched', comparison_status = 'matched', "
                "frozen_reason = NULL")
    con.execute("UPDATE marts.budget_status SET mtd_spend_amount = 10, utilisation_ratio = 0.01, "
                "threshold_crossed_ratio = 0, forecast_amount = 20, forecast_utilisation_ratio = 0.02, status = 'ok', alert_level = 'green'")


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(start):html.index(end)]


@pytest.mark.parametrize(("errors", "warnings", "mismatches", "frozen", "level"), [
    (0, 0, 0, 0, "green"), (0, 2, 0, 0, "amber"), (0, 0, 0, 1, "amber"), (1, 3, 0, 0, "red"),
    (0, 0, 1, 0, "red"), (0, 1, 2, 1, "red"),
])
def test_glance_rule(errors, warnings, mismatches, frozen, level):
    assert glance_level(errors, warnings, mismatches, frozen) == level


def test_status_at_a_glance_per_area(recon_report, recon_warehouse):
    assert _levels(recon_warehouse) == {"tieout": "red", "discount": "amber", "incentive": "amber",
                                        "budget": "red", "coupon": "red"}
    html = _html(recon_report)
    glance = _section(html, '<div class="glance">', 'id="reconciliation-findings"')
    cards = re.findall(r'<a class="area (\w+)" href="#([\w-]+)">\s*<div class="title">([^<]+)</div>\s*'
                       r'<div class="level">([^<]+)</div>', glance)
    assert cards == [("red", "tie-out", "Bill tie-out", "Red"), ("amber", "discount-audit", "Discount audit", "Amber"),
                     ("amber", "incentives", "Incentives", "Amber"), ("red", "budgets", "Budgets", "Red"),
                     ("red", "coupons", "Coupons", "Red")]
    assert "3 errors" in glance and "USD 1,346.90" in glance  # 1,234.56 + 99.99 + 12.35
    # the frozen line agrees with the statement: it counts as agreeing, and as frozen
    assert "2 warnings" in glance and "2 of 2 compared lines match the statement, 1 frozen" in glance
    assert "1 over budget, 1 at 75/90 %, 0 more forecast above budget (of 3 customers)" in glance
    assert "As of 2026-03-20, the last usage export of 2026-03" in glance
    assert "1 expiring within 30 days" in glance
    # the coupons were read after 2026-03 ended: the pack says so instead of passing them off as March's
    assert ("As read on 2026-04-20, after 2026-03 ended (the BSS API keeps only current balances); "
            "days left count from 2026-04-20") in glance


def test_a_frozen_incentive_line_that_differs_from_the_statement_does_not_count_as_agreeing(recon_warehouse):
    recon_warehouse.execute("UPDATE marts.incentive_reconciliation SET comparison_status = 'mismatch', "
                            "statement_incentive_amount = 5.60, difference_amount = 0.02 WHERE status = 'frozen'")
    data = load_reconciliation_data(recon_warehouse, CYCLE, True)
    (incentive,) = [status for status in data.statuses if status.area.key == "incentive"]
    assert incentive.facts[0] == "1 of 2 compared lines match the statement, 1 frozen"


def test_a_clean_reconciliation_is_green_and_one_error_or_mismatch_turns_its_area_red(recon_warehouse):
    _make_clean(recon_warehouse)
    assert _levels(recon_warehouse) == dict.fromkeys(NEW_AREAS, "green")
    # a money mismatch without any finding is red all the same
    recon_warehouse.execute("UPDATE marts.incentive_reconciliation SET status = 'missing_in_statement' "
                            "WHERE service_type_code = 'hws.service.type.ec2'")
    insert_findings(recon_warehouse, [
        ("DISCOUNT.RATE_MISMATCH", "error", CYCLE, ACME[0], "T-201", D(37), D(35), D(-2), "rate", "discount"),
        ("BUDGET.OVER_NOT_FROZEN", "warning", CYCLE, ACME[0], None, D(1000), D(1100), D(100), "over", "budget"),
        ("COUPON.USED_AFTER_EXPIRY", "info", CYCLE, ACME[0], "T-200", None, None, D(5), "info only", "coupon"),
    ])
    assert _levels(recon_warehouse) == {"tieout": "green", "discount": "red", "incentive": "red",
                                        "budget": "amber", "coupon": "green"}


def test_reconciliation_comes_right_after_the_notes_findings_first(recon_report):
    html = _html(recon_report)
    order = [html.index(marker) for marker in (
        "Notes for this close", 'id="reconciliation"', '<div class="glance">', 'id="reconciliation-findings"',
        'id="tie-out"', 'id="discount-audit"', 'id="incentives"', 'id="budgets"', 'id="coupons"', 'id="totals"')]
    assert order == sorted(order)
    findings = _section(html, 'id="reconciliation-findings"', 'id="tie-out"')
    # errors first, each severity largest difference first
    rules = re.findall(r'<td class="code rule">([A-Z_.]+)', findings.replace("<wbr>", ""))
    assert rules == ["TIEOUT.CUSTOMER_AMOUNT", "TIEOUT.CUSTOMER_MISSING_IN_FILE", "COUPON.USED_BEYOND_BALANCE",
                     "TIEOUT.PARTNER_BILL", "BUDGET.OVER_NOT_FROZEN", "DISCOUNT.NEGATIVE_MARGIN",
                     "AGREEMENT.EXPIRED"]
    assert "7 findings" in findings
    assert "no cycle" in findings  # cycle-less findings are in every pack
    assert "February" not in findings  # another cycle's finding


def test_tieout_tables_show_formatted_amounts_mismatches_first(recon_report):
    html = _html(recon_report)
    partner = _section(html, 'id="tie-out"', "<h3>Customer tie-out</h3>")
    components = re.findall(r"<td>([A-Z][a-z ()]+)</td>", partner)
    assert components == ["Consumption (expenditure lines)", "Refunds", "Adjustments", "Amount due"]
    assert re.search(r"2,472\.27</td>\s*<td[^>]*>2,484\.62</td>\s*<td[^>]*>12\.35</td>\s*"
                     r'<td><span class="pill error" data-status="mismatch">mismatch</span>', partner)
    assert partner.count('<span class="pill ok" data-status="matched">matched</span>') == 3
    customers = _section(html, "<h3>Customer tie-out</h3>", 'id="discount-audit"')
    assert customers.index("=HYPERLINK(&#34;") < customers.index("Ghost Trading")  # 1,234.56 before 99.99
    assert re.search(r"10\.50</td>\s*<td[^>]*>1,245\.06</td>\s*<td[^>]*>1,234\.56</td>", customers)
    assert "missing in file" in customers
    assert "2 customers matched to the cent (bill file USD 2,341.77, API USD 2,341.77)" in customers
    assert "<script>" not in html


def test_incentive_budget_and_coupon_sections(recon_report):
    html = _html(recon_report)
    incentives = _section(html, 'id="incentives"', 'id="budgets"')
    assert incentives.index("hws.service.type.obs") < incentives.index("hws.service.type.ec2")  # frozen first
    assert "3.00 %" in incentives and "2026-05-15" in incentives
    # the period's frozen reason is said once, above the table, not repeated in a column on every row
    assert ('<span class="pill frozen">frozen</span> The partner bill of the period is not yet paid.</p>'
            in incentives) and "Frozen reason" not in incentives
    assert re.search(r"All services</td>\s*<td[^>]*>885\.85</td>", incentives)
    budgets = _section(html, 'id="budgets"', 'id="coupons"')
    assert "Budgets: 2026-03, as of 2026-03-20" in budgets
    assert budgets.index("Acme") < budgets.index("上海云帆科技有限公司") < budgets.index("=HYPERLINK")
    assert 'style="width: 100.0%"' in budgets and "110.00 %" in budgets  # the bar stops at 100 %
    coupons = _section(html, 'id="coupons"', 'id="totals"')
    expiring, flagged = coupons.split("Coupons concerned by a coupon finding")
    assert "CP-1" in expiring and "2026-04-30 23:59 GMT+8" in expiring and "CP-2" not in expiring
    assert "CP-2" in flagged and "COUPON.USED_BEYOND_BALANCE" in flagged and "CP-3" not in flagged


def test_reconciliation_sheets_have_frozen_headers_filters_and_numeric_money(recon_report):
    workbook = openpyxl.load_workbook(recon_report.xlsx)
    assert workbook.sheetnames[-6:] == RECON_SHEETS
    for name in RECON_SHEETS:
        sheet = workbook[name]
        header = _header_row(sheet)
        assert all(cell.font.bold for cell in sheet[header] if cell.value), name
        headers = [cell.value for cell in sheet[header]]
        money_columns = [i for i, text in enumerate(headers) if text and "(USD" in text]
        assert money_columns, name
        rows = list(sheet.iter_rows(min_row=header + 1))
        assert rows, name
        for row in rows:
            for index in money_columns:
                cell = row[index]
                if cell.value is not None:
                    assert cell.data_type == "n" and cell.number_format == "#,##0.00", (name, cell.coordinate)

    status = workbook["Reconciliation"]
    assert [(row[0].value, row[1].value) for row in status.iter_rows(min_row=2, max_row=6)] == [
        ("Bill tie-out", "Red"), ("Discount audit", "Amber"), ("Incentives", "Amber"), ("Budgets", "Red"),
        ("Coupons", "Red")]
    assert status["D2"].value == pytest.approx(1346.90)
    assert status.max_row == 8 + 7  # header row 8, the cycle's seven findings
    tieout = workbook["Tie-out"]
    values = [[cell.value for cell in row] for row in tieout.iter_rows(min_row=2)]
    assert [row[1] for row in values[:4]] == ["Consumption (expenditure lines)", "Refunds", "Adjustments",
                                              "Amount due"]
    assert values[4][1:] == [FORMULA[0], "'" + FORMULA[1], 10.5, 1245.06, 1234.56, "mismatch"]
    assert [row[6] for row in values[4:]] == ["mismatch", "missing in file", "matched", "matched"]
    budgets = workbook["Budgets"]
    utilisation = budgets.cell(row=2, column=9)
    assert utilisation.value == pytest.approx(1.1) and utilisation.number_format == "0.00%"
    threshold = budgets.cell(row=2, column=10)  # a ratio like utilisation, not a percent
    assert threshold.value == 1 and threshold.number_format == "0.00%"
    # the header notes come from the warehouse contract
    assert budgets.cell(row=1, column=9).comment.text == column_note("marts.budget_status", "utilisation_ratio")
    assert budgets.cell(row=1, column=1).comment.text == column_note("marts.budget_status", "customer_id")
    incentives = workbook["Incentives"]
    assert incentives.cell(row=5, column=1).value == "Total"
    assert incentives.cell(row=5, column=6).value == pytest.approx(885.85)
    summary_texts = [c.value for row in workbook["Summary"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any(text.startswith("Bill tie-out: Red, 3 errors") for text in summary_texts)


def test_a_formula_name_is_neutralised_in_the_new_sheets_and_csvs(recon_report):
    workbook = openpyxl.load_workbook(recon_report.xlsx)
    cells = [cell for name in RECON_SHEETS for row in workbook[name].iter_rows() for cell in row
             if isinstance(cell.value, str) and "HYPERLINK" in cell.value]
    assert {cell.parent.title for cell in cells} >= {"Reconciliation", "Tie-out", "Budgets"}
    assert all(cell.value == "'" + FORMULA[1] and cell.data_type == "s" for cell in cells)
    assert not any(cell.data_type == "f" for name in RECON_SHEETS for row in workbook[name].iter_rows()
                   for cell in row)
    for export in ("customer_bill_tieout", "budget_status"):
        with recon_report.csv_by_mart[export].open(encoding="utf-8") as handle:
            names = {row["customer_id"]: row["customer_name"] for row in csv.DictReader(handle)}
        assert names[FORMULA[0]] == "'" + FORMULA[1], export


def test_reconciliation_csvs_hold_the_cycle_its_budgets_and_the_current_coupons(recon_report):
    assert list(recon_report.csv_by_mart)[-6:] == RECON_CSVS

    def rows(name):
        with recon_report.csv_by_mart[name].open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    findings = rows("reconciliation_findings")
    assert sorted((r["rule_id"], r["bill_cycle"]) for r in findings) == sorted([
        ("TIEOUT.PARTNER_BILL", CYCLE), ("TIEOUT.CUSTOMER_AMOUNT", CYCLE), ("TIEOUT.CUSTOMER_MISSING_IN_FILE", CYCLE),
        ("DISCOUNT.NEGATIVE_MARGIN", CYCLE), ("AGREEMENT.EXPIRED", ""), ("BUDGET.OVER_NOT_FROZEN", CYCLE),
        ("COUPON.USED_BEYOND_BALANCE", "")])
    partner = rows("partner_bill_tieout")
    assert {r["bill_cycle"] for r in partner} == {CYCLE} and len(partner) == 4
    assert next(r for r in partner if r["component"] == "consumption")["api_amount"] == "2484.61975231"
    assert len(rows("customer_bill_tieout")) == 4 and len(rows("incentive_reconciliation")) == 2
    assert len(rows("budget_status")) == 3 and [r["coupon_id"] for r in rows("coupon_status")] == ["CP-1", "CP-2", "CP-3"]
    html = _html(recon_report)
    assert "<code>reconciliation_findings.csv</code>" in html and "<code>coupon_status.csv</code>" in html


def test_missing_marts_or_api_make_each_section_say_not_available(warehouse, report, tmp_path):
    # an older warehouse: none of the reconciliation marts
    html = _html(report)
    part = _section(html, 'id="reconciliation"', 'id="totals"')
    assert "Not available: this warehouse has none of the reconciliation marts" in part
    assert not set(RECON_CSVS) & set(report.csv_by_mart)
    workbook = openpyxl.load_workbook(report.xlsx)
    assert workbook.sheetnames[-6:] == RECON_SHEETS
    assert workbook["Tie-out"]["A2"].value.startswith("Not available: this warehouse has no marts.partner_bill_tieout")

    # the marts exist but the BSS API is not configured
    create_reconciliation_marts(warehouse)
    insert_findings(warehouse, [("BILL.AMOUNT_DUE_IDENTITY", "error", CYCLE, ACME[0], "T-200", D(1), D(2), D(1),
                                 "identity", "discount")])
    result = render_month_close(warehouse, CYCLE, tmp_path / "noapi", api_configured=False)
    part = _section(_html(result), 'id="reconciliation"', 'id="totals"')
    sentence = API_NOT_CONFIGURED[0].upper() + API_NOT_CONFIGURED[1:] + "."
    for anchor, following in (('id="tie-out"', "<h3>Customer tie-out</h3>"), ('id="incentives"', 'id="budgets"'),
                              ('id="budgets"', 'id="coupons"'), ('id="coupons"', "</section>")):
        assert sentence in _section(part, anchor, following), anchor
    assert "BILL.AMOUNT_DUE_IDENTITY" in _section(part, 'id="discount-audit"', 'id="incentives"').replace("<wbr>", "")
    assert _levels(warehouse, api_configured=False) == {
        "tieout": "unavailable", "discount": "red", "incentive": "unavailable", "budget": "unavailable",
        "coupon": "unavailable"}
    assert openpyxl.load_workbook(result.xlsx)["Budgets"]["A2"].value == sentence

    # one mart missing: only its section says so
    warehouse.execute("DROP TABLE marts.coupon_status")
    part = _section(_html(render_month_close(warehouse, CYCLE, tmp_path / "nocoupons", api_configured=True)),
                    'id="reconciliation"', 'id="totals"')
    assert "Not available: this warehouse has no marts.coupon_status" in _section(part, 'id="coupons"', "</section>")
    assert "Not available" not in _section(part, 'id="tie-out"', 'id="coupons"')


def test_empty_marts_say_no_data(warehouse, tmp_path):
    create_reconciliation_marts(warehouse)
    assert _levels(warehouse) == {"tieout": "no_data", "discount": "green", "incentive": "no_data",
                                  "budget": "no_data", "coupon": "green"}
    part = _section(_html(render_month_close(warehouse, CYCLE, tmp_path / CYCLE)), 'id="reconciliation"', 'id="totals"')
    assert "No data for 2026-03: neither a bill file nor an API bill to tie out." in part
    assert "No data for 2026-03: no incentive to reconcile for this period." in part
    # nothing promises a status that will never come: the month's usage exports were not loaded
    assert ("No data: no budget status for 2026-03 (budgets are measured on the month&#39;s daily usage exports, "
            "and none of 2026-03 was loaded).") in part
    assert "No reconciliation finding for 2026-03." in part


@pytest.mark.slow
def test_rendering_the_reconciliation_twice_gives_identical_files(recon_warehouse, tmp_path):
    render_month_close(recon_warehouse, CYCLE, tmp_path / "a", api_configured=True)
    recon_warehouse.execute("SET TimeZone = 'America/Los_Angeles'")
    render_month_close(recon_warehouse, CYCLE, tmp_path / "b", api_configured=True)
    first, second = _file_bytes(tmp_path / "a"), _file_bytes(tmp_path / "b")
    assert {f"{name}.csv" for name in RECON_CSVS} <= set(first)
    assert first == second


def test_before_the_bill_file_the_tieout_says_so_instead_of_turning_red(recon_warehouse, tmp_path):
    # the open month: HUAWEI CLOUD's API already has a bill, the file is not delivered yet
    recon_warehouse.execute("UPDATE marts.partner_bill_tieout SET file_amount = NULL, "
                            "difference_amount = api_amount, status = 'missing_in_file'")
    recon_warehouse.execute("DELETE FROM marts.customer_bill_tieout")
    recon_warehouse.execute("DELETE FROM marts.reconciliation_findings WHERE check_area = 'tieout'")
    status = load_reconciliation_data(recon_warehouse, CYCLE, True).status("tieout")
    assert (status.level, status.reason) == ("no_data", "no data for 2026-03: the bill file has not been delivered yet")
    html = _html(render_month_close(recon_warehouse, CYCLE, tmp_path / CYCLE, api_configured=True))
    partner = _section(html, 'id="tie-out"', "<h3>Customer tie-out</h3>")
    assert "No data for 2026-03: the bill file has not been delivered yet: only the API's side is known." in partner
    assert partner.count("missing in file") == 4 and "2,484.62" in partner
    # once the file is there, a component that does not match is red again
    recon_warehouse.execute("UPDATE marts.partner_bill_tieout SET file_amount = 1, status = 'mismatch' "
                            "WHERE component = 'refunds'")
    assert _levels(recon_warehouse)["tieout"] == "red"


def test_bills_streamed_one_customer_range_per_query_are_the_same_files(warehouse, tmp_path, monkeypatch):
    # a product name with line breaks: the batch's CSV text is cut at row ends, not at every LF
    warehouse.execute("UPDATE marts.customer_bill_line SET product_name = 'two\nline\r\nproduct' "
                      "WHERE trade_id = 'T-201'")
    render_month_close(warehouse, CYCLE, tmp_path / "whole", notes=["note"])
    monkeypatch.setattr(marts_data, "LINES_PER_RANGE", 1)  # every customer is a range of its own
    assert len(marts_data.customer_ranges(warehouse, CYCLE, 1)[1]) == 3
    ranged = render_month_close(warehouse, CYCLE, tmp_path / "ranged", notes=["note"])
    assert _file_bytes(tmp_path / "whole") == _file_bytes(tmp_path / "ranged")
    acme = _read_bill(ranged.customer_bills[ACME[0]])
    assert [row["Order/Transaction No."] for row in acme[:2]] == ["T-200", "T-201"]
    assert acme[2]["Trade Time (GMT+8)"] == "TOTAL"
    assert acme[1]["Product"] == "two\nline\r\nproduct"
    assert D(acme[2]["Charge (USD)"]) == D("1900") + D("117.28394956")


# ------------------------------------------------------------------ verdict, names, dates, print


# The scope of a cycle's findings, written out again here so the test checks the report against
# the warehouse itself: the cycle's, those of no cycle, and the open month's budget findings.
_CYCLE_FINDINGS = """FROM marts.reconciliation_findings WHERE (bill_cycle = ? OR bill_cycle IS NULL
    OR (check_area = 'budget' AND bill_cycle IN (SELECT bill_cycle FROM marts.budget_status)))"""


def _verdict_html(html: str) -> str:
    section = _section(html, 'id="verdict"', "</section>")
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section.split(">", 1)[1])).strip()


def test_the_verdict_heads_the_page_and_the_summary_with_the_warehouse_figures(recon_report, recon_warehouse):
    errors, at_stake = recon_warehouse.execute(
        f"SELECT count(*), sum(abs(difference_amount)) {_CYCLE_FINDINGS} AND severity = 'error'", [CYCLE]).fetchone()
    (warnings,) = recon_warehouse.execute(f"SELECT count(*) {_CYCLE_FINDINGS} AND severity = 'warning'",
                                          [CYCLE]).fetchone()
    assert (errors, at_stake, warnings) == (4, D("1372.40"), 3)  # 12.35 + 1,234.56 + 99.99 + 25.50
    headline = (f"2026-03 is not ready to close: {errors} findings to resolve, "
                f"USD {format_money(at_stake)} at stake.")
    html = _html(recon_report)
    assert html.index('id="verdict"') < html.index("Notes for this close") < html.index('id="reconciliation"')
    assert _verdict_html(html) == (f"{headline} Reconciliation findings: {errors} errors, {warnings} warnings; "
                                   f"Σ |difference| of the errors USD {format_money(at_stake)}.")
    summary = openpyxl.load_workbook(recon_report.xlsx)["Summary"]
    assert summary["A1"].value == headline and summary["A1"].font.bold
    assert summary["A2"].value.startswith(f"Reconciliation findings: {errors} errors")


def test_a_month_without_errors_is_ready_to_close_and_names_what_was_not_checked(recon_warehouse, tmp_path):
    _make_clean(recon_warehouse)
    html = _html(render_month_close(recon_warehouse, CYCLE, tmp_path / "clean", api_configured=True))
    assert _verdict_html(html) == "2026-03 is ready to close. No reconciliation finding."
    insert_findings(recon_warehouse, [
        ("DISCOUNT.NEGATIVE_MARGIN", "warning", CYCLE, ACME[0], "hws.service.type.rds", D(0), D(-2), D(-2),
         "negative margin", "discount")])
    html = _html(render_month_close(recon_warehouse, CYCLE, tmp_path / "warning", api_configured=True))
    assert _verdict_html(html).startswith("2026-03 is ready to close, with 1 warning to review.")
    html = _html(render_month_close(recon_warehouse, CYCLE, tmp_path / "noapi", api_configured=False))
    assert _verdict_html(html).startswith("2026-03 is ready to close, with 1 warning to review "
                                          "(Bill tie-out, Incentives, Budgets, Coupons not checked).")
    # a money mismatch without an error finding holds the close all the same
    recon_warehouse.execute("UPDATE marts.incentive_reconciliation SET status = 'mismatch' "
                            "WHERE service_type_code = 'hws.service.type.ec2'")
    html = _html(render_month_close(recon_warehouse, CYCLE, tmp_path / "mismatch", api_configured=True))
    assert _verdict_html(html).startswith("2026-03 is not ready to close: unmatched lines in Incentives.")


def test_the_open_month_verdict_says_the_bill_file_is_awaited(recon_warehouse, tmp_path):
    html = _html(render_month_close(recon_warehouse, OPEN_MONTH, tmp_path / OPEN_MONTH, [NO_FILE_NOTE],
                                    api_configured=True))
    assert _verdict_html(html).startswith("2026-04 cannot be closed yet: its bill file has not been delivered.")
    assert 'class="verdict awaiting_file"' in html


def test_every_sheet_prints_landscape_fitted_to_width_with_its_header_repeated(recon_report):
    workbook = openpyxl.load_workbook(recon_report.xlsx)
    for sheet in workbook.worksheets:
        setup = sheet.page_setup
        fit_to_width = 1 if setup.fitToWidth is None else setup.fitToWidth  # 1 is the default, left out
        assert (setup.orientation, setup.paperSize, fit_to_width) == ("landscape", 9, 1), sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        assert sheet.print_area, sheet.title
        assert "Page &P of &N" in sheet.oddFooter.center.text, sheet.title
        if sheet.title != "Summary":
            header = _header_row(sheet)
            assert sheet.print_title_rows == f"${header}:${header}", sheet.title
            assert setup.fitToHeight == 0, sheet.title  # as many pages as the rows need
    # a header that wraps gets a row tall enough to show it: "Difference (USD, statement − expected)" in 18
    assert workbook["Incentives"].row_dimensions[1].height == 45
    assert workbook["Customers"].row_dimensions[1].height == 45  # "Lines without agreement" in 12
    summary = workbook["Summary"]
    assert summary.page_setup.fitToHeight in (None, 1)  # one page (1 is the default, left out)
    last_text_row = max(cell.row for cell in _cells(summary))
    assert summary.print_area == f"'Summary'!$A$1:$C${last_text_row}"


def test_a_long_sheet_prints_its_first_rows_and_says_so(warehouse, tmp_path, monkeypatch):
    monkeypatch.setattr("reports.xlsx_tables.PRINT_ROW_LIMIT", 5)
    workbook = openpyxl.load_workbook(render_month_close(warehouse, CYCLE, tmp_path / CYCLE).xlsx)
    bills = workbook["Customer bills"]
    assert bills.max_row == 8  # header + 7 lines, all in the sheet
    assert bills.print_area == "'Customer bills'!$A$1:$W$6"
    assert bills.oddFooter.right.text == "Printed: the first 5 of 7 rows (the sheet has them all)"
    assert workbook["Services"].print_area == "'Services'!$A$1:$X$6"  # 3 services, a blank row, the total
    assert workbook["Services"].oddFooter.right.text is None


def test_audit_sheets_have_human_headers_and_dates_are_excel_dates(recon_warehouse, tmp_path):
    recon_warehouse.execute("""INSERT INTO marts.restatement VALUES ('2026-03', ?, 'e1', 'e2',
        '2026-04-06 10:30:00+00'::TIMESTAMPTZ, ?, 1, 0, 2, 10, 12.5, 2.5)""", [MARCH_FILE, ACME[0]])
    recon_warehouse.execute("SET TimeZone = 'America/Los_Angeles'")  # the output must not depend on it
    workbook = openpyxl.load_workbook(render_month_close(recon_warehouse, CYCLE, tmp_path / CYCLE,
                                                         api_configured=True).xlsx)
    for sheet in workbook.worksheets[1:]:
        headers = [cell.value for cell in sheet[_header_row(sheet)] if cell.value]
        assert not [text for text in headers if "_" in text], sheet.title
    quarantine = [cell.value for cell in workbook["Quarantine"][1]]
    assert quarantine[:3] == ["Load ID", "Source", "Object key"] and "Row as delivered" in quarantine

    def column(sheet_name, header, row=2):
        sheet = workbook[sheet_name]
        index = [cell.value for cell in sheet[_header_row(sheet)]].index(header)
        return sheet.cell(row=_header_row(sheet) + row - 1, column=index + 1)

    expected = [
        ("Data quality", "Landed at (UTC)", datetime(2026, 3, 1, 1, 0), "yyyy-mm-dd hh:mm:ss"),
        ("Customer bills", "Trade time (GMT+8)", datetime(2026, 3, 3, 10, 0), "yyyy-mm-dd hh:mm:ss"),
        ("Restatements", "Re-delivered at (UTC)", datetime(2026, 4, 6, 10, 30), "yyyy-mm-dd hh:mm:ss"),
        ("Incentives", "Expected payment", datetime(2026, 5, 15), "yyyy-mm-dd"),
        ("Budgets", "As of", datetime(2026, 3, 20), "yyyy-mm-dd"),  # the pack's own month
        ("Coupons", "Expires (GMT+8)", datetime(2026, 4, 15, 23, 59, 59), "yyyy-mm-dd hh:mm:ss"),  # CP-3
    ]
    for sheet_name, header, value, number_format in expected:
        cell = column(sheet_name, header)
        assert (cell.is_date, cell.value, cell.number_format) == (True, value, number_format), sheet_name
    assert column("Restatements", "Change (USD)").value == 2.5
    summary = workbook["Summary"]
    (landed,) = [cell for cell in _cells(summary) if cell.value == "Source data landed up to (UTC)"]
    assert summary.cell(row=landed.row, column=2).value == datetime(2026, 4, 5, 3, 0)


def test_codes_are_shown_with_their_names(recon_report):
    workbook = openpyxl.load_workbook(recon_report.xlsx)
    bills = workbook["Customer bills"]
    mode = [cell.value for cell in bills[1]].index("Billing mode")
    assert {row[mode].value for row in bills.iter_rows(min_row=2)} == {"Pay-per-use (1)"}
    incentives = workbook["Incentives"]
    headers = [cell.value for cell in incentives[1]]
    rows = [{h: c.value for h, c in zip(headers, row)} for row in incentives.iter_rows(min_row=2, max_row=3)]
    assert [(r["Service type code"], r["Service"], r["Policy"], r["Status"]) for r in rows] == [
        ("hws.service.type.obs", "Object Storage Service",
         "1 – Specific product", "frozen"),
        ("hws.service.type.ec2", "Elastic Cloud Server",
         "0 – Non-specific product", "matched")]
    reconciliation = workbook["Reconciliation"]
    headers = [cell.value for cell in reconciliation[8]]
    references = {row[headers.index("Reference")].value: row[headers.index("Service")].value
                  for row in reconciliation.iter_rows(min_row=9)}
    assert references["hws.service.type.rds"] == "Relational Database Service"  # named by the bill lines
    assert references["hws.service.type.ec2 / *"] == "Elastic Cloud Server"  # an agreement's scope
    assert references["consumption"] is None  # a reference that is no service
    findings = _section(_html(recon_report), 'id="reconciliation-findings"', 'id="tie-out"')
    assert re.search(r'hws\.service\.type\.rds<span class="hint block">Relational Database Service</span>', findings)
    quality = workbook["Data quality"]
    status = [cell.value for cell in quality[1]].index("Status")
    assert {row[status].value for row in quality.iter_rows(min_row=2)} == {"quarantined rows", "ok"}
    budgets = workbook["Budgets"]
    status = [cell.value for cell in budgets[1]].index("Status")
    assert [row[status].value for row in budgets.iter_rows(min_row=2)] == ["over budget", "at 75 %", "ok"]
    html = _section(_html(recon_report), 'id="incentives"', 'id="budgets"')
    assert re.search(r'<span class="name">Object Storage Service</span><span class="id">hws.service.type.obs</span>',
                     html)
    assert '<span class="name">Specific product</span><span class="id">policy 1</span>' in html
    assert ("<strong>13</strong> performance only (no rebate), counts toward performance but earns nothing: "
            "its rate is 0 %." in html)


@pytest.mark.parametrize(("change", "base", "text"), [
    ("1712.96", "5.00", "n/a"),        # from 5.00 to 1,717.96: no percentage means anything
    ("40", "0", "new"), ("0", "0", "n/a"), ("-4", "9.99", "n/a"),
    ("5000", "100", "> 1,000.00 %"), ("1000", "100", "1,000.00 %"),
    ("50.25", "100", "50.25 %"), ("-25", "100", "-25.00 %"), ("-100", "10", "-1,000.00 %"),
])
def test_month_over_month_changes_on_a_tiny_base_are_words_not_percentages(change, base, text):
    assert format_change_percent(D(change), D(base)) == text


def test_a_service_the_incentive_mart_does_not_name_is_named_from_the_bill_lines(recon_warehouse, tmp_path):
    recon_warehouse.execute("UPDATE marts.incentive_reconciliation SET service_type_name = NULL")
    report = render_month_close(recon_warehouse, CYCLE, tmp_path / CYCLE, api_configured=True)
    incentives = openpyxl.load_workbook(report.xlsx)["Incentives"]
    names = [row[3].value for row in incentives.iter_rows(min_row=2, max_row=3)]
    assert [cell.value for cell in incentives[1]][3] == "Service"
    assert names == ["Object Storage Service", "Elastic Cloud Server"]
    html = _section(_html(report), 'id="incentives"', 'id="budgets"')
    assert '<span class="name">Object Storage Service</span><span class="id">hws.service.type.obs</span>' in html


def test_budgets_read_after_the_month_ended_are_shown_but_not_judged(recon_warehouse, tmp_path):
    # a closed month raises no budget finding (only the open month can still be acted on)
    recon_warehouse.execute("UPDATE marts.budget_status SET budget_snapshot_date = '2026-04-20'")
    recon_warehouse.execute("DELETE FROM marts.reconciliation_findings WHERE check_area = 'budget'")
    data = load_reconciliation_data(recon_warehouse, CYCLE, True)
    (budget,) = [status for status in data.statuses if status.area.key == "budget"]
    assert (budget.level, budget.reason) == (
        "no_data", "not judged: no budget was read during 2026-03 (the BSS API keeps only the current budgets); "
                   "the table compares those read on 2026-04-20 with 2026-03's spend")
    html = _html(render_month_close(recon_warehouse, CYCLE, tmp_path / CYCLE, api_configured=True))
    budgets = _section(html, 'id="budgets"', 'id="coupons"')
    assert "Budgets as read on 2026-04-20: none was read during 2026-03" in budgets and "Acme" in budgets
