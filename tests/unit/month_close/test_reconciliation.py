"""The reconciliation part of the pack: each area's status, its section, sheet and CSV, and what it says when it cannot be shown."""

from __future__ import annotations

import csv
import re

import openpyxl
import pytest

from reports import render_month_close
from reports.reconciliation import load_reconciliation_data
from reports.reconciliation_areas import API_NOT_CONFIGURED
from reports.reconciliation_status import glance_level
from schemas.warehouse_contract import column_note
from tests.unit.month_close.pack_warehouse import (
    ACME,
    CYCLE,
    FORMULA,
    NEW_AREAS,
    RECON_CSVS,
    RECON_SHEETS,
    D,
    area_levels,
    header_row,
    html_between,
    make_clean,
    page_html,
)
from tests.unit.reconciliation_marts import create_reconciliation_marts, insert_findings


@pytest.mark.parametrize(("errors", "warnings", "mismatches", "frozen", "level"), [
    (0, 0, 0, 0, "green"), (0, 2, 0, 0, "amber"), (0, 0, 0, 1, "amber"), (1, 3, 0, 0, "red"),
    (0, 0, 1, 0, "red"), (0, 1, 2, 1, "red"),
])
def test_glance_rule(errors, warnings, mismatches, frozen, level):
    assert glance_level(errors, warnings, mismatches, frozen) == level


def test_status_at_a_glance_per_area(recon_report, recon_warehouse):
    assert area_levels(recon_warehouse) == {"tieout": "red", "discount": "amber", "incentive": "amber",
                                        "budget": "red", "coupon": "red"}
    html = page_html(recon_report)
    glance = html_between(html, '<div class="glance">', 'id="reconciliation-findings"')
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
    make_clean(recon_warehouse)
    assert area_levels(recon_warehouse) == dict.fromkeys(NEW_AREAS, "green")
    # a money mismatch without any finding is red all the same
    recon_warehouse.execute("UPDATE marts.incentive_reconciliation SET status = 'missing_in_statement' "
                            "WHERE service_type_code = 'hws.service.type.ec2'")
    insert_findings(recon_warehouse, [
        ("DISCOUNT.RATE_MISMATCH", "error", CYCLE, ACME[0], "T-201", D(37), D(35), D(-2), "rate", "discount"),
        ("BUDGET.OVER_NOT_FROZEN", "warning", CYCLE, ACME[0], None, D(1000), D(1100), D(100), "over", "budget"),
        ("COUPON.USED_AFTER_EXPIRY", "info", CYCLE, ACME[0], "T-200", None, None, D(5), "info only", "coupon"),
    ])
    assert area_levels(recon_warehouse) == {"tieout": "green", "discount": "red", "incentive": "red",
                                        "budget": "amber", "coupon": "green"}


def test_reconciliation_comes_right_after_the_notes_findings_first(recon_report):
    html = page_html(recon_report)
    order = [html.index(marker) for marker in (
        "Notes for this close", 'id="reconciliation"', '<div class="glance">', 'id="reconciliation-findings"',
        'id="tie-out"', 'id="discount-audit"', 'id="incentives"', 'id="budgets"', 'id="coupons"', 'id="totals"')]
    assert order == sorted(order)
    findings = html_between(html, 'id="reconciliation-findings"', 'id="tie-out"')
    # errors first, each severity largest difference first
    rules = re.findall(r'<td class="code rule">([A-Z_.]+)', findings.replace("<wbr>", ""))
    assert rules == ["TIEOUT.CUSTOMER_AMOUNT", "TIEOUT.CUSTOMER_MISSING_IN_FILE", "COUPON.USED_BEYOND_BALANCE",
                     "TIEOUT.PARTNER_BILL", "BUDGET.OVER_NOT_FROZEN", "DISCOUNT.NEGATIVE_MARGIN",
                     "AGREEMENT.EXPIRED"]
    assert "7 findings" in findings
    assert "no cycle" in findings  # cycle-less findings are in every pack
    assert "February" not in findings  # another cycle's finding


def test_tieout_tables_show_formatted_amounts_mismatches_first(recon_report):
    html = page_html(recon_report)
    partner = html_between(html, 'id="tie-out"', "<h3>Customer tie-out</h3>")
    components = re.findall(r"<td>([A-Z][a-z ()]+)</td>", partner)
    assert components == ["Consumption (expenditure lines)", "Refunds", "Adjustments", "Amount due"]
    assert re.search(r"2,472\.27</td>\s*<td[^>]*>2,484\.62</td>\s*<td[^>]*>12\.35</td>\s*"
                     r'<td><span class="pill error" data-status="mismatch">mismatch</span>', partner)
    assert partner.count('<span class="pill ok" data-status="matched">matched</span>') == 3
    customers = html_between(html, "<h3>Customer tie-out</h3>", 'id="discount-audit"')
    assert customers.index("=HYPERLINK(&#34;") < customers.index("Ghost Trading")  # 1,234.56 before 99.99
    assert re.search(r"10\.50</td>\s*<td[^>]*>1,245\.06</td>\s*<td[^>]*>1,234\.56</td>", customers)
    assert "missing in file" in customers
    assert "2 customers matched to the cent (bill file USD 2,341.77, API USD 2,341.77)" in customers
    assert "<script>" not in html


def test_incentive_budget_and_coupon_sections(recon_report):
    html = page_html(recon_report)
    incentives = html_between(html, 'id="incentives"', 'id="budgets"')
    assert incentives.index("hws.service.type.obs") < incentives.index("hws.service.type.ec2")  # frozen first
    assert "3.00 %" in incentives and "2026-05-15" in incentives
    # the period's frozen reason is said once, above the table, not repeated in a column on every row
    assert ('<span class="pill frozen">frozen</span> The partner bill of the period is not yet paid.</p>'
            in incentives) and "Frozen reason" not in incentives
    assert re.search(r"All services</td>\s*<td[^>]*>885\.85</td>", incentives)
    budgets = html_between(html, 'id="budgets"', 'id="coupons"')
    assert "Budgets: 2026-03, as of 2026-03-20" in budgets
    assert budgets.index("Acme") < budgets.index("上海云帆科技有限公司") < budgets.index("=HYPERLINK")
    assert 'style="width: 100.0%"' in budgets and "110.00 %" in budgets  # the bar stops at 100 %
    coupons = html_between(html, 'id="coupons"', 'id="totals"')
    expiring, flagged = coupons.split("Coupons concerned by a coupon finding")
    assert "CP-1" in expiring and "2026-04-30 23:59 GMT+8" in expiring and "CP-2" not in expiring
    assert "CP-2" in flagged and "COUPON.USED_BEYOND_BALANCE" in flagged and "CP-3" not in flagged


def test_reconciliation_sheets_have_frozen_headers_filters_and_numeric_money(recon_report):
    workbook = openpyxl.load_workbook(recon_report.xlsx)
    assert workbook.sheetnames[-6:] == RECON_SHEETS
    for name in RECON_SHEETS:
        sheet = workbook[name]
        header = header_row(sheet)
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
    html = page_html(recon_report)
    assert "<code>reconciliation_findings.csv</code>" in html and "<code>coupon_status.csv</code>" in html


def test_missing_marts_or_api_make_each_section_say_not_available(warehouse, report, tmp_path):
    # an older warehouse: none of the reconciliation marts
    html = page_html(report)
    part = html_between(html, 'id="reconciliation"', 'id="totals"')
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
    part = html_between(page_html(result), 'id="reconciliation"', 'id="totals"')
    sentence = API_NOT_CONFIGURED[0].upper() + API_NOT_CONFIGURED[1:] + "."
    for anchor, following in (('id="tie-out"', "<h3>Customer tie-out</h3>"), ('id="incentives"', 'id="budgets"'),
                              ('id="budgets"', 'id="coupons"'), ('id="coupons"', "</section>")):
        assert sentence in html_between(part, anchor, following), anchor
    assert "BILL.AMOUNT_DUE_IDENTITY" in html_between(part, 'id="discount-audit"', 'id="incentives"').replace("<wbr>", "")
    assert area_levels(warehouse, api_configured=False) == {
        "tieout": "unavailable", "discount": "red", "incentive": "unavailable", "budget": "unavailable",
        "coupon": "unavailable"}
    assert openpyxl.load_workbook(result.xlsx)["Budgets"]["A2"].value == sentence

    # one mart missing: only its section says so
    warehouse.execute("DROP TABLE marts.coupon_status")
    part = html_between(page_html(render_month_close(warehouse, CYCLE, tmp_path / "nocoupons", api_configured=True)),
                    'id="reconciliation"', 'id="totals"')
    assert "Not available: this warehouse has no marts.coupon_status" in html_between(part, 'id="coupons"', "</section>")
    assert "Not available" not in html_between(part, 'id="tie-out"', 'id="coupons"')


def test_empty_marts_say_no_data(warehouse, tmp_path):
    create_reconciliation_marts(warehouse)
    assert area_levels(warehouse) == {"tieout": "no_data", "discount": "green", "incentive": "no_data",
                                  "budget": "no_data", "coupon": "green"}
    part = html_between(page_html(render_month_close(warehouse, CYCLE, tmp_path / CYCLE)), 'id="reconciliation"', 'id="totals"')
    assert "No data for 2026-03: neither a bill file nor an API bill to tie out." in part
    assert "No data for 2026-03: no incentive to reconcile for this period." in part
    # nothing promises a status that will never come: the month's usage exports were not loaded
    assert ("No data: no budget status for 2026-03 (budgets are measured on the month&#39;s daily usage exports, "
            "and none of 2026-03 was loaded).") in part
    assert "No reconciliation finding for 2026-03." in part


def test_before_the_bill_file_the_tieout_says_so_instead_of_turning_red(recon_warehouse, tmp_path):
    # the open month: HUAWEI CLOUD's API already has a bill, the file is not delivered yet
    recon_warehouse.execute("UPDATE marts.partner_bill_tieout SET file_amount = NULL, "
                            "difference_amount = api_amount, status = 'missing_in_file'")
    recon_warehouse.execute("DELETE FROM marts.customer_bill_tieout")
    recon_warehouse.execute("DELETE FROM marts.reconciliation_findings WHERE check_area = 'tieout'")
    status = load_reconciliation_data(recon_warehouse, CYCLE, True).status("tieout")
    assert (status.level, status.reason) == ("no_data", "no data for 2026-03: the bill file has not been delivered yet")
    html = page_html(render_month_close(recon_warehouse, CYCLE, tmp_path / CYCLE, api_configured=True))
    partner = html_between(html, 'id="tie-out"', "<h3>Customer tie-out</h3>")
    assert "No data for 2026-03: the bill file has not been delivered yet: only the API's side is known." in partner
    assert partner.count("missing in file") == 4 and "2,484.62" in partner
    # once the file is there, a component that does not match is red again
    recon_warehouse.execute("UPDATE marts.partner_bill_tieout SET file_amount = 1, status = 'mismatch' "
                            "WHERE component = 'refunds'")
    assert area_levels(recon_warehouse)["tieout"] == "red"


def test_budgets_read_after_the_month_ended_are_shown_but_not_judged(recon_warehouse, tmp_path):
    # a closed month raises no budget finding (only the open month can still be acted on)
    recon_warehouse.execute("UPDATE marts.budget_status SET budget_snapshot_date = '2026-04-20'")
    recon_warehouse.execute("DELETE FROM marts.reconciliation_findings WHERE check_area = 'budget'")
    data = load_reconciliation_data(recon_warehouse, CYCLE, True)
    (budget,) = [status for status in data.statuses if status.area.key == "budget"]
    assert (budget.level, budget.reason) == (
        "no_data", "not judged: no budget was read during 2026-03 (the BSS API keeps only the current budgets); "
                   "the table compares those read on 2026-04-20 with 2026-03's spend")
    html = page_html(render_month_close(recon_warehouse, CYCLE, tmp_path / CYCLE, api_configured=True))
    budgets = html_between(html, 'id="budgets"', 'id="coupons"')
    assert "Budgets as read on 2026-04-20: none was read during 2026-03" in budgets and "Acme" in budgets
