"""The verdict that heads the page and the Summary sheet, against the warehouse's own figures."""

from __future__ import annotations

import re

import openpyxl

from reports import render_month_close
from reports.formatting import format_money
from tests.unit.month_close.pack_warehouse import (
    ACME,
    CYCLE,
    NO_FILE_NOTE,
    OPEN_MONTH,
    D,
    html_between,
    make_clean,
    page_html,
)
from tests.unit.reconciliation_marts import insert_findings

# The scope of a cycle's findings, written out again here so the test checks the report against
# the warehouse itself: the cycle's, those of no cycle, and the open month's budget findings.
_CYCLE_FINDINGS = """FROM marts.reconciliation_findings WHERE (bill_cycle = ? OR bill_cycle IS NULL
    OR (check_area = 'budget' AND bill_cycle IN (SELECT bill_cycle FROM marts.budget_status)))"""


def _verdict_html(html: str) -> str:
    section = html_between(html, 'id="verdict"', "</section>")
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section.split(">", 1)[1])).strip()


def test_the_verdict_heads_the_page_and_the_summary_with_the_warehouse_figures(recon_report, recon_warehouse):
    errors, at_stake = recon_warehouse.execute(
        f"SELECT count(*), sum(abs(difference_amount)) {_CYCLE_FINDINGS} AND severity = 'error'", [CYCLE]).fetchone()
    (warnings,) = recon_warehouse.execute(f"SELECT count(*) {_CYCLE_FINDINGS} AND severity = 'warning'",
                                          [CYCLE]).fetchone()
    assert (errors, at_stake, warnings) == (4, D("1372.40"), 3)  # 12.35 + 1,234.56 + 99.99 + 25.50
    headline = (f"2026-03 is not ready to close: {errors} findings to resolve, "
                f"USD {format_money(at_stake)} at stake.")
    html = page_html(recon_report)
    assert html.index('id="verdict"') < html.index("Notes for this close") < html.index('id="reconciliation"')
    assert _verdict_html(html) == (f"{headline} Reconciliation findings: {errors} errors, {warnings} warnings; "
                                   f"Σ |difference| of the errors USD {format_money(at_stake)}.")
    summary = openpyxl.load_workbook(recon_report.xlsx)["Summary"]
    assert summary["A1"].value == headline and summary["A1"].font.bold
    assert summary["A2"].value.startswith(f"Reconciliation findings: {errors} errors")


def test_a_month_without_errors_is_ready_to_close_and_names_what_was_not_checked(recon_warehouse, tmp_path):
    make_clean(recon_warehouse)
    html = page_html(render_month_close(recon_warehouse, CYCLE, tmp_path / "clean", api_configured=True))
    assert _verdict_html(html) == "2026-03 is ready to close. No reconciliation finding."
    insert_findings(recon_warehouse, [
        ("DISCOUNT.NEGATIVE_MARGIN", "warning", CYCLE, ACME[0], "hws.service.type.rds", D(0), D(-2), D(-2),
         "negative margin", "discount")])
    html = page_html(render_month_close(recon_warehouse, CYCLE, tmp_path / "warning", api_configured=True))
    assert _verdict_html(html).startswith("2026-03 is ready to close, with 1 warning to review.")
    html = page_html(render_month_close(recon_warehouse, CYCLE, tmp_path / "noapi", api_configured=False))
    assert _verdict_html(html).startswith("2026-03 is ready to close, with 1 warning to review "
                                          "(Bill tie-out, Incentives, Budgets, Coupons not checked).")
    # a money mismatch without an error finding holds the close all the same
    recon_warehouse.execute("UPDATE marts.incentive_reconciliation SET status = 'mismatch' "
                            "WHERE service_type_code = 'hws.service.type.ec2'")
    html = page_html(render_month_close(recon_warehouse, CYCLE, tmp_path / "mismatch", api_configured=True))
    assert _verdict_html(html).startswith("2026-03 is not ready to close: unmatched lines in Incentives.")


def test_the_open_month_verdict_says_the_bill_file_is_awaited(recon_warehouse, tmp_path):
    html = page_html(render_month_close(recon_warehouse, OPEN_MONTH, tmp_path / OPEN_MONTH, [NO_FILE_NOTE],
                                    api_configured=True))
    assert _verdict_html(html).startswith("2026-04 cannot be closed yet: its bill file has not been delivered.")
    assert 'class="verdict awaiting_file"' in html
