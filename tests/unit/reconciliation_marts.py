"""The reconciliation marts as the SQL models create them (docs/reconciliation.md, docs/architecture.md),
with a small hand-made content for report tests. Columns and types are the contract; the rows
are chosen so each area of the month-close pack shows a known status:

- tie-out: red (a partner component and two customers do not match, with error findings);
- discount audit: amber (two warnings, one of them without a cycle);
- incentives: amber (one line frozen, no finding);
- budgets: red (a customer at 110 % with its BUDGET.OVER_NOT_FROZEN warning; another at 80 %);
- coupons: red (COUPON.USED_BEYOND_BALANCE, an error without a cycle, on one customer's vouchers;
  another coupon expires in 10 days).

Severities and check areas are those of ``schemas/rules.py``.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

D = Decimal

FINDINGS_DDL = """
CREATE TABLE marts.reconciliation_findings (
  rule_id VARCHAR, severity VARCHAR, bill_cycle VARCHAR, customer_id VARCHAR, reference VARCHAR,
  expected DECIMAL(20,8), actual DECIMAL(20,8), difference_amount DECIMAL(20,8), message VARCHAR,
  check_area VARCHAR)
"""
DISCOUNT_AUDIT_DDL = """
CREATE VIEW marts.discount_audit AS
SELECT * FROM marts.reconciliation_findings WHERE check_area = 'discount'
"""
PARTNER_TIEOUT_DDL = """
CREATE TABLE marts.partner_bill_tieout (
  bill_cycle VARCHAR, component VARCHAR, file_amount DECIMAL(20,8), api_amount DECIMAL(20,8),
  difference_amount DECIMAL(20,8), status VARCHAR)
"""
CUSTOMER_TIEOUT_DDL = """
CREATE TABLE marts.customer_bill_tieout (
  bill_cycle VARCHAR, customer_id VARCHAR, customer_name VARCHAR, file_amount DECIMAL(20,8),
  api_amount DECIMAL(20,8), difference_amount DECIMAL(20,8), status VARCHAR)
"""
INCENTIVE_DDL = """
CREATE TABLE marts.incentive_reconciliation (
  period VARCHAR, incentive_type VARCHAR, service_type_code VARCHAR, service_type_name VARCHAR,
  incentive_policy VARCHAR,
  eligible_performance_amount DECIMAL(20,8), rate DECIMAL(9,6),
  expected_incentive_amount DECIMAL(20,8), statement_incentive_amount DECIMAL(20,8),
  difference_amount DECIMAL(20,8), status VARCHAR, expected_reconciliation_date DATE,
  expected_payment_date DATE, frozen_reason VARCHAR, comparison_status VARCHAR)
"""
BUDGET_DDL = """
CREATE TABLE marts.budget_status (
  customer_id VARCHAR, customer_name VARCHAR, bill_cycle VARCHAR, as_of_date DATE,
  days_covered INTEGER, budget_type VARCHAR, budget_amount DECIMAL(20,8),
  mtd_spend_amount DECIMAL(20,8), utilisation_ratio DECIMAL(18,6), threshold_crossed_ratio DECIMAL(3,2),
  forecast_amount DECIMAL(20,8), forecast_utilisation_ratio DECIMAL(18,6), is_frozen BOOLEAN, status VARCHAR,
  alert_level VARCHAR, note VARCHAR, days_in_month INTEGER, is_closed BOOLEAN, budget_snapshot_date DATE)
"""
COUPON_DDL = """
CREATE TABLE marts.coupon_status (
  coupon_id VARCHAR, customer_id VARCHAR, coupon_type VARCHAR, status VARCHAR,
  face_value DECIMAL(20,8), balance DECIMAL(20,8), used_amount DECIMAL(20,8),
  used_this_month_amount DECIMAL(20,8), valid_time TIMESTAMPTZ, expire_time TIMESTAMPTZ,
  days_to_expiry INTEGER, used_in_bill_cycle VARCHAR, as_of_date DATE, snapshot_date DATE)
"""
ALL_DDL = (FINDINGS_DDL, DISCOUNT_AUDIT_DDL, PARTNER_TIEOUT_DDL, CUSTOMER_TIEOUT_DDL, INCENTIVE_DDL,
           BUDGET_DDL, COUPON_DDL)


def create_reconciliation_marts(con: duckdb.DuckDBPyConnection) -> None:
    """The tables, empty (a warehouse where the BSS API was never configured)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    for ddl in ALL_DDL:
        con.execute(ddl)


def insert_findings(con: duckdb.DuckDBPyConnection, rows) -> None:
    con.executemany("INSERT INTO marts.reconciliation_findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def fill_reconciliation_marts(con: duckdb.DuckDBPyConnection, cycle: str, open_month: str,
                              customers: dict[str, tuple[str, str]]) -> None:
    """Rows for ``cycle`` (closed; its budgets as of its last usage export) and the coupon mart as read
    in ``open_month``.

    ``customers`` maps "chinese", "acme", "formula" to (id, name).
    """
    chinese, acme, formula = customers["chinese"], customers["acme"], customers["formula"]
    con.executemany("INSERT INTO marts.partner_bill_tieout VALUES (?, ?, ?, ?, ?, ?)", [
        (cycle, "amount_due", D("2352.26975231"), D("2352.26975231"), D(0), "matched"),
        (cycle, "adjustments", D("-50"), D("-50"), D(0), "matched"),
        (cycle, "consumption", D("2472.26975231"), D("2484.61975231"), D("12.35"), "mismatch"),
        (cycle, "refunds", D("-70"), D("-70"), D(0), "matched"),
        ("2026-02", "consumption", D(1), D(999), D(998), "mismatch"),  # another cycle
    ])
    con.executemany("INSERT INTO marts.customer_bill_tieout VALUES (?, ?, ?, ?, ?, ?, ?)", [
        (cycle, chinese[0], chinese[1], D("805.35"), D("805.35"), D(0), "matched"),
        (cycle, acme[0], acme[1], D("1536.41975231"), D("1536.41975231"), D(0), "matched"),
        (cycle, formula[0], formula[1], D("10.50"), D("1245.06"), D("1234.56"), "mismatch"),
        (cycle, "cust-404", "Ghost Trading", None, D("99.99"), D("99.99"), "missing_in_file"),
    ])
    insert_findings(con, [
        ("TIEOUT.PARTNER_BILL", "error", cycle, None, "consumption", D("2472.26975231"),
         D("2484.61975231"), D("12.35"), "consumption: API differs from the bill file", "tieout"),
        ("TIEOUT.CUSTOMER_AMOUNT", "error", cycle, formula[0], None, D("10.50"), D("1245.06"),
         D("1234.56"), "customer total differs", "tieout"),
        ("TIEOUT.CUSTOMER_MISSING_IN_FILE", "error", cycle, "cust-404", None, None, D("99.99"),
         D("99.99"), "API monthly sum without lines in the bill file", "tieout"),
        ("DISCOUNT.NEGATIVE_MARGIN", "warning", cycle, acme[0], "hws.service.type.rds", D(0),
         D("-2.03703670"), D("-2.03703670"), "the customer is billed less than the partner pays", "discount"),
        ("AGREEMENT.EXPIRED", "warning", None, chinese[0], "hws.service.type.ec2 / *", None, None, None,
         "the agreement ended before lines of its scope", "discount"),
        ("BUDGET.OVER_NOT_FROZEN", "warning", cycle, acme[0], None, D("1000"), D("1100"), D("100"),
         "over budget and not frozen", "budget"),
        ("COUPON.USED_BEYOND_BALANCE", "error", None, acme[0], "voucher", D("100"), D("125.50"), D("25.50"),
         "vouchers paid more than they gave", "coupon"),
        ("DISCOUNT.NOT_ALLOWED", "warning", "2026-02", acme[0], "T-9", D(0), D(5), D(5),
         "February", "discount"),  # another cycle: not in this pack
    ])
    con.executemany("INSERT INTO marts.incentive_reconciliation VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (cycle, "Monthly rebate", "hws.service.type.ec2", "Elastic Cloud Server", "0", D("700"), D("0.03"), D("21.00"), D("21.00"),
         D(0), "matched", "2026-04-08", "2026-05-15", None, "matched"),
        (cycle, "Monthly rebate", "hws.service.type.obs", "Object Storage Service", "1", D("185.85"), D("0.03"), D("5.58"), D("5.58"),
         D(0), "frozen", "2026-04-08", "2026-05-15", "the partner bill of the period is not yet paid", "matched"),
    ])
    con.executemany("INSERT INTO marts.budget_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "30, true, '2026-03-20')", [
        (acme[0], acme[1], cycle, "2026-03-20", 19, "monthly", D("1000"), D("1100"), D("1.1"), D(1),
         D("1736.84"), D("1.73684"), False, "over_budget", "red", None),
        (chinese[0], chinese[1], cycle, "2026-03-20", 19, "monthly", D("1000"), D("800"), D("0.8"), D("0.75"),
         D("1263.16"), D("1.26316"), False, "alert_75", "amber", None),
        (formula[0], formula[1], cycle, "2026-03-20", 19, "monthly", D("500"), D("10"), D("0.02"), D(0),
         D("15.79"), D("0.03158"), False, "ok", "green", None),
    ])
    con.executemany("INSERT INTO marts.coupon_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?, "
                    f"'{cycle}', '2026-04-20', '2026-04-20')", [
        ("CP-1", chinese[0], "cash_coupon", "active", D(200), D(100), D(100), D(100),
         "2026-01-01 00:00:00+08", "2026-04-30 23:59:59+08", 10),
        ("CP-2", acme[0], "voucher", "active", D(500), D(400), D(100), D(100),
         "2026-01-01 00:00:00+08", "2026-07-19 23:59:59+08", 90),
        ("CP-3", acme[0], "cash_coupon", "expired", D(50), D(0), D(50), D(0),
         "2026-01-01 00:00:00+08", "2026-04-15 23:59:59+08", -5),
    ])
