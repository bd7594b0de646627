"""The month-close workbook: sheets, headers, numeric money, dates, names beside codes, print layout."""

from __future__ import annotations

import re
from datetime import datetime

import openpyxl
import pytest

from reports import render_month_close
from reports.xlsx import workbook_creation_date
from schemas.rules import RULES
from tests.unit.month_close.pack_warehouse import (
    ACME,
    CHINESE,
    CYCLE,
    EMPTY_CYCLE,
    FORMULA,
    MARCH_FILE,
    NO_FILE_NOTE,
    cells_of,
    header_row,
    html_between,
    mart_charge_by_customer,
    page_html,
)


def test_the_summary_of_a_month_without_a_bill_file_says_so_at_the_top_and_shows_no_zero_totals(
        warehouse, tmp_path):
    result = render_month_close(warehouse, EMPTY_CYCLE, tmp_path / EMPTY_CYCLE, notes=[NO_FILE_NOTE])
    workbook = openpyxl.load_workbook(result.xlsx)
    summary = workbook["Summary"]
    assert summary["A1"].value == f"{EMPTY_CYCLE} cannot be closed yet: its bill file has not been delivered."
    top = [cell.value for cell in cells_of(summary, max_row=8)]
    assert NO_FILE_NOTE in top and f"No bill lines for {EMPTY_CYCLE}: there are no totals to show. " \
        "They appear here once the month's bill file is loaded." in top
    texts = [cell.value for cell in cells_of(summary)]
    assert not {"Consumption at list price", "Margin", "Customers", "Bill lines"} & set(texts)
    # the only numbers left are counts of what was received; no money, no zero totals
    assert [(cell.value, cell.number_format) for cell in cells_of(summary) if cell.data_type == "n"] == [
        (0, "#,##0"), (0, "#,##0")]  # quarantined rows, validation findings
    for name in ("Customers", "Services"):
        assert [cell.value for cell in cells_of(workbook[name]) if cell.row > 1] == [f"No bill lines for {EMPTY_CYCLE}."]


def test_xlsx_sheets_have_frozen_bold_headers_and_filters(report):
    workbook = openpyxl.load_workbook(report.xlsx)
    assert workbook.sheetnames[:5] == ["Summary", "Customers", "Services", "Customer bills",
                                       "Data quality"]
    for sheet in workbook.worksheets[1:]:  # the Summary is a statement, not a table to filter
        expected_header = 8 if sheet.title == "Reconciliation" else 1  # 5 areas, a blank row
        assert header_row(sheet) == expected_header, sheet.title
        assert sheet[f"A{expected_header}"].font.bold, sheet.title


def test_xlsx_money_is_numeric_and_text_is_never_a_formula(report, warehouse):
    workbook = openpyxl.load_workbook(report.xlsx)
    customers = workbook["Customers"]
    header = [cell.value for cell in customers[1]]
    id_column = header.index("Customer ID")
    charge_column = header.index("Billed to customers")
    expected = mart_charge_by_customer(warehouse)
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
    (list_price,) = [cell for cell in cells_of(summary) if cell.value == "Consumption at list price"]
    amount = summary.cell(row=list_price.row, column=2)
    assert amount.value == pytest.approx(3388.95678901, abs=1e-9) and amount.number_format == "#,##0.00"
    assert summary.cell(row=list_price.row - 1, column=1).value == "Item"
    assert summary.cell(row=list_price.row - 1, column=1).font.bold


def test_xlsx_creation_date_comes_from_the_bill_cycle_not_the_clock(report):
    # Rendering twice within one second would not catch a "now" timestamp; check the value.
    assert openpyxl.load_workbook(report.xlsx).properties.created == datetime(2026, 4, 1)
    assert workbook_creation_date("2026-12") == datetime(2027, 1, 1)


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
    assert charged == pytest.approx(float(sum(mart_charge_by_customer(warehouse).values())), abs=1e-6)
    summary_texts = [c.value for row in workbook["Summary"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any("shows each customer's bill per service" in text for text in summary_texts)


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
            header = header_row(sheet)
            assert sheet.print_title_rows == f"${header}:${header}", sheet.title
            assert setup.fitToHeight == 0, sheet.title  # as many pages as the rows need
    # a header that wraps gets a row tall enough to show it: "Difference (USD, statement − expected)" in 18
    assert workbook["Incentives"].row_dimensions[1].height == 45
    assert workbook["Customers"].row_dimensions[1].height == 45  # "Lines without agreement" in 12
    summary = workbook["Summary"]
    assert summary.page_setup.fitToHeight in (None, 1)  # one page (1 is the default, left out)
    last_text_row = max(cell.row for cell in cells_of(summary))
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
        headers = [cell.value for cell in sheet[header_row(sheet)] if cell.value]
        assert not [text for text in headers if "_" in text], sheet.title
    quarantine = [cell.value for cell in workbook["Quarantine"][1]]
    assert quarantine[:3] == ["Load ID", "Source", "Object key"]
    assert quarantine[-3:] == ["Reason", "What to do", "Row as delivered"]
    assert [row[len(quarantine) - 2].value for row in workbook["Quarantine"].iter_rows(min_row=2)] == \
        [None, RULES["FILE.PARSE.CYCLE"].action]

    def column(sheet_name, header, row=2):
        sheet = workbook[sheet_name]
        index = [cell.value for cell in sheet[header_row(sheet)]].index(header)
        return sheet.cell(row=header_row(sheet) + row - 1, column=index + 1)

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
    (landed,) = [cell for cell in cells_of(summary) if cell.value == "Source data landed up to (UTC)"]
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
    findings = html_between(page_html(recon_report), 'id="reconciliation-findings"', 'id="tie-out"')
    assert re.search(r'hws\.service\.type\.rds<span class="hint block">Relational Database Service</span>', findings)
    quality = workbook["Data quality"]
    status = [cell.value for cell in quality[1]].index("Status")
    assert {row[status].value for row in quality.iter_rows(min_row=2)} == {"quarantined rows", "ok"}
    budgets = workbook["Budgets"]
    status = [cell.value for cell in budgets[1]].index("Status")
    assert [row[status].value for row in budgets.iter_rows(min_row=2)] == ["over budget", "at 75 %", "ok"]
    html = html_between(page_html(recon_report), 'id="incentives"', 'id="budgets"')
    assert re.search(r'<span class="name">Object Storage Service</span><span class="id">hws.service.type.obs</span>',
                     html)
    assert '<span class="name">Specific product</span><span class="id">policy 1</span>' in html
    assert ("<strong>13</strong> performance only (no rebate), counts toward performance but earns nothing: "
            "its rate is 0 %." in html)


def test_a_service_the_incentive_mart_does_not_name_is_named_from_the_bill_lines(recon_warehouse, tmp_path):
    recon_warehouse.execute("UPDATE marts.incentive_reconciliation SET service_type_name = NULL")
    report = render_month_close(recon_warehouse, CYCLE, tmp_path / CYCLE, api_configured=True)
    incentives = openpyxl.load_workbook(report.xlsx)["Incentives"]
    names = [row[3].value for row in incentives.iter_rows(min_row=2, max_row=3)]
    assert [cell.value for cell in incentives[1]][3] == "Service"
    assert names == ["Object Storage Service", "Elastic Cloud Server"]
    html = html_between(page_html(report), 'id="incentives"', 'id="budgets"')
    assert '<span class="name">Object Storage Service</span><span class="id">hws.service.type.obs</span>' in html
