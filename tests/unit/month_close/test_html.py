"""The month-close page: headline figures, escaping, self-containment, sections, held deliveries and restatements."""

from __future__ import annotations

import re

import openpyxl

from reports import render_month_close
from tests.unit.month_close.pack_warehouse import (
    ACME,
    AGREEMENTS_FILE,
    CYCLE,
    EMPTY_CYCLE,
    EXPECTED_HEADLINES,
    FEBRUARY_FILE,
    MARCH_FILE,
    MARCH_MEMBER,
    NO_FILE_NOTE,
    page_html,
)


def test_html_shows_headline_totals_worked_out_from_the_fixture(report):
    html = page_html(report)
    for name, expected in EXPECTED_HEADLINES.items():
        assert expected in html, f"{name}: {expected} missing"


def test_html_escapes_text_from_the_data(report):
    html = page_html(report)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "=HYPERLINK(&#34;http://x&#34;,&#34;pay&#34;)" in html
    assert "上海云帆科技有限公司" in html


def test_html_is_self_contained(report):
    html = page_html(report)
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
    html = page_html(report)
    assert "Notes for this close" in html
    note = html.index("BSS API not configured: tie-outs skipped")
    assert note < html.index('id="totals"')


def test_data_quality_section_lists_the_cycle_only(report):
    html = page_html(report).replace("<wbr>", "")  # rule ids may wrap after their dots and underscores
    assert MARCH_MEMBER in html
    assert AGREEMENTS_FILE in html  # not month-bound: shown in every cycle
    assert FEBRUARY_FILE not in html
    assert "DISCOUNT_RATE_MISMATCH" in html and "FEBRUARY_ONLY_RULE" not in html
    assert "amount_due is not official - discount - truncated" in html
    assert "2 bill lines without a matching customer agreement" in html
    assert "FILE.PARSE.CYCLE" in html  # no cycle of its own, but from the March file
    assert "2 rows quarantined" in html


def test_quarantined_rows_say_what_to_do(report):
    """Each reason comes with its rule's action from the rules catalogue; a rule id the catalogue no
    longer has (quarantined by an older release) shows its reason without one."""
    html = page_html(report).replace("<wbr>", "")
    section = html[html.index("<h3>Quarantined rows</h3>"):]
    section = section[:section.index("</table>")]
    rows = [row for row in section.split("<tr>")[2:]]
    cells = [[cell.split(">", 1)[1].split("</td>")[0] for cell in row.split("<td")[1:]] for row in rows]
    assert [(c[1], c[3], c[4]) for c in cells] == [
        ("AMOUNT_IDENTITY", "", "1"),
        ("FILE.PARSE.CYCLE", "correct the billing cycle", "1"),
    ]


def test_top_customers_are_ordered_by_amount_billed(report):
    html = page_html(report)
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


def test_a_restatement_is_shown_with_its_changes_per_customer(warehouse, tmp_path):
    warehouse.execute(
        "INSERT INTO marts.restatement VALUES (?, ?, 'etag-1', 'etag-2', TIMESTAMPTZ '2026-04-07 03:00:00+00', "
        "?, 1, 0, 2, 10.00000000, 22.50000000, 12.50000000)", [CYCLE, MARCH_FILE, ACME[0]])
    report = render_month_close(warehouse, CYCLE, tmp_path / CYCLE)
    html = page_html(report)
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
    html = page_html(report)
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
    assert 'id="restatements"' not in page_html(report)
