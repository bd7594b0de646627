"""A pack for an account of partners.toml names the account (id and name) in the page's header and on
the Summary sheet, and labels its amounts with the account's currency, the statements included; without
one (the BILLRECON_* settings' account) the pack is as it always was: no account line, USD."""

from __future__ import annotations

import openpyxl
from markupsafe import escape
from pypdf import PdfReader

from pipelines.lib.partners import FileSource, Partner
from reports import render_month_close
from tests.unit.month_close.pack_warehouse import CYCLE, EXPECTED_HEADLINES, page_html

CHINA = Partner("acme-cn", "ACME Cloud (China)", "cn", "CNY", FileSource(inbox="inbox"))


def summary_facts(report) -> dict:
    sheet = openpyxl.load_workbook(report.xlsx, read_only=True)["Summary"]
    return {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and isinstance(row[0], str)}


def statement_text(report) -> str:
    path = next(iter(report.customer_statements.values()))
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_the_pack_of_an_account_names_it_and_labels_amounts_in_its_currency(warehouse, tmp_path):
    report = render_month_close(warehouse, CYCLE, tmp_path / CYCLE, account=CHINA)
    html = page_html(report)
    assert '<div class="meta" data-figure="partner_account">Partner account ACME Cloud (China) (acme-cn)</div>' in html
    assert "Amounts in CNY, rounded to cents" in html
    for name, expected in EXPECTED_HEADLINES.items():
        assert expected.replace("USD ", "CNY ") in html, name
    facts = summary_facts(report)
    assert facts["Partner account"] == "ACME Cloud (China) (acme-cn)" and facts["Currency"] == "CNY"
    assert facts["Item"] == "Amount (CNY)"  # the header of the statement of the month
    text = statement_text(report)
    assert "CNY" in text and "USD" not in text


def test_without_an_account_the_pack_names_none_and_stays_in_usd(report):
    html = page_html(report)
    assert "Partner account" not in html and "CNY" not in html
    facts = summary_facts(report)
    assert "Partner account" not in facts and facts["Currency"] == "USD"
    assert "USD" in statement_text(report)


def headline(report) -> str:
    return next(iter(summary_facts(report)))  # the Summary sheet starts with the verdict


def test_a_month_whose_amounts_are_not_in_the_accounts_currency_is_not_ready(recon_warehouse, tmp_path):
    at_stake = render_month_close(recon_warehouse, CYCLE, tmp_path / "before", account=CHINA)
    assert headline(at_stake).startswith(f"{CYCLE} is not ready to close: 4 findings to resolve, CNY 1,372.40 at stake")
    recon_warehouse.execute(
        "INSERT INTO audit.findings (object_key, bill_cycle, rule_id, severity, message) VALUES "
        "('api/partner_monthly_bill/x.json', ?, 'API.CURRENCY', 'error', '1 of 1 record(s) are in USD, but account "
        "acme-cn is billed in CNY')", [CYCLE])
    report = render_month_close(recon_warehouse, CYCLE, tmp_path / "after", account=CHINA)
    expected = f"{CYCLE} is not ready to close: its amounts are not all in the account's currency, CNY (API.CURRENCY)"
    assert headline(report) == expected + "."
    assert str(escape(expected)) in page_html(report)


def test_no_amount_of_an_accounts_pack_is_labelled_in_another_currency(recon_warehouse, tmp_path):
    report = render_month_close(recon_warehouse, CYCLE, tmp_path / CYCLE, account=CHINA)
    workbook = openpyxl.load_workbook(report.xlsx, read_only=True)
    cells = [str(value) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)
             for value in row if isinstance(value, str)]
    labelled = [cell for cell in cells if "(CNY" in cell or "CNY " in cell]
    delivered = [cell for cell in cells if "Amount Due (USD)" in cell]  # a quarantined row, as it was delivered
    assert [cell for cell in cells if "USD" in cell] == delivered and len(delivered) == 1
    assert {"Σ |difference| (CNY)", "Bill file (CNY)", "Budget (CNY)", "Face value (CNY)",
            "Amount due before (CNY)"} <= set(labelled)
    assert "USD" not in page_html(report)
    bill = next(iter(report.customer_bills.values())).read_text(encoding="utf-8-sig").splitlines()[0]
    assert "List Price (CNY)" in bill and "Charge (CNY)" in bill and "USD" not in bill
