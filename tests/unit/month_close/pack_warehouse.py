"""The small hand-made warehouse the month-close tests render, whose totals are worked out below,
and the helpers that read the rendered pack back."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl

from pipelines.lib.audit import write_rule_catalogue
from pipelines.lib.warehouse import SQL_DIR
from reports.reconciliation import load_reconciliation_data

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
    """Create the tables the reports read and fill them with the fixture rows (and the rules catalogue)."""
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE SCHEMA audit")
    for ddl in (BILL_LINE_DDL, EXPENDITURE_DDL, DATA_QUALITY_DDL, FINDINGS_DDL, QUARANTINE_DDL, RESTATEMENT_DDL):
        con.execute(ddl)
    con.execute((SQL_DIR / "audit" / "held_deliveries.sql").read_text(encoding="utf-8"))
    con.execute((SQL_DIR / "audit" / "rules.sql").read_text(encoding="utf-8"))
    write_rule_catalogue(con)
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
            ("load-0001", "customerBill", MARCH_FILE, MARCH_MEMBER, None, 10, "FILE.PARSE.CYCLE",
             "billing cycle is not 'YYYY-MM': bill_cycle: 'March'", '{"Billing Cycle": "March"}'),
        ])

OPEN_MONTH = EMPTY_CYCLE  # the month the coupon mart was read in
RECON_CSVS = ["reconciliation_findings", "partner_bill_tieout", "customer_bill_tieout",
              "incentive_reconciliation", "budget_status", "coupon_status"]
RECON_SHEETS = ["Reconciliation", "Tie-out", "Discount audit", "Incentives", "Budgets", "Coupons"]
NEW_AREAS = ("tieout", "discount", "incentive", "budget", "coupon")


def page_html(report) -> str:
    return report.html.read_text(encoding="utf-8")


def mart_charge_by_customer(con) -> dict[str, Decimal]:
    rows = con.execute(
        "SELECT customer_id, sum(customer_charge_amount) FROM marts.customer_monthly_expenditure "
        "WHERE bill_cycle = ? GROUP BY customer_id", [CYCLE]).fetchall()
    return dict(rows)


def cells_of(sheet, max_row=None):
    return [cell for row in sheet.iter_rows(max_row=max_row) for cell in row if cell.value is not None]


def header_row(sheet) -> int:
    """The row of the sheet's main table header: the one just above the frozen pane, which its
    autofilter starts on (row 1 everywhere but on Reconciliation, under the status table)."""
    frozen = openpyxl.utils.cell.coordinate_from_string(sheet.freeze_panes)
    assert frozen[0] == "A", sheet.title
    header = frozen[1] - 1
    assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith(f"A{header}:"), sheet.title
    return header


def read_bill(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def file_bytes(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def area_levels(con, api_configured=True, cycle=CYCLE) -> dict[str, str]:
    data = load_reconciliation_data(con, cycle, api_configured)
    return {status.area.key: status.level for status in data.statuses}


def make_clean(con) -> None:
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


def html_between(html: str, start: str, end: str) -> str:
    return html[html.index(start):html.index(end)]
