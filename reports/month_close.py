"""Entry point: render the month-close report of one bill cycle from the marts.

``render_month_close`` writes, into the directory it is given (``<reports root>/<bill_cycle>/``):

- ``month_close_<cycle>.html``: the page finance reads;
- ``month_close_<cycle>.xlsx``: the workbook finance works in;
- ``<mart>.csv`` for each exported table, for import elsewhere, the reconciliation marts included
  when the warehouse has them (``reconciliation_findings.csv``, ``partner_bill_tieout.csv``, …);
  every bill line is in ``customer_bill_line.parquet``, and in ``customer_bill_line.csv`` only when
  the month has no more lines than a spreadsheet opens (``csv_export.ALL_LINES_CSV_MAX_ROWS``);
- ``journal_<cycle>.csv``: the month's accounting journal (marts.accounting_journal), when the
  warehouse has it;
- ``customer_bills/<customer id>.csv``: each customer's lines at the partner's price, and beside it
  ``<customer id>.pdf``, the customer's statement.

The same warehouse content always gives byte-identical files: nothing depends on the clock, the
machine's time zone or query order. Each file is replaced atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from reports import exports
from reports.csv_export import bill_names, write_customer_bills, write_table_csv
from reports.customer_statements import customer_statements_rendered
from reports.formatting import ReportAccount
from reports.html import write_month_close_html
from reports.journal import chart_note, has_journal, write_journal_csv
from reports.month_close_data import MonthCloseData, load_month_close_data
from reports.pack_lines import rated_once
from reports.reconciliation import load_reconciliation_data
from reports.reconciliation_areas import existing_tables, reconciliation_exports
from reports.xlsx import write_month_close_workbook
from schemas.bill_cycle import BillCycle

# the tables a month close cannot be rendered without (the reconciliation marts are optional)
REQUIRED_TABLES = (exports.EXPENDITURE_TABLE, exports.BILL_LINE_TABLE, exports.DATA_QUALITY_TABLE,
                   exports.FINDINGS_TABLE, exports.QUARANTINE_TABLE, exports.RULES_TABLE)


def missing_required_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Those of `REQUIRED_TABLES` the warehouse lacks: all the marts, when no run ever finished."""
    present = existing_tables(con, REQUIRED_TABLES)
    return [table for table in REQUIRED_TABLES if table not in present]


@dataclass(frozen=True)
class MonthCloseReport:
    """The files one rendering wrote."""

    bill_cycle: str
    html: Path
    xlsx: Path
    csv_by_mart: Mapping[str, Path]
    """Mart (or audit table) name -> its CSV export, e.g. ``"customer_bill_line"`` (absent when the
    month has more lines than a spreadsheet opens)."""
    bill_lines_parquet: Path
    """``customer_bill_line.parquet``: every bill line of the cycle."""
    customer_bills: Mapping[str, Path]
    """Customer id -> that customer's bill CSV."""
    customer_statements: Mapping[str, Path]
    """Customer id -> that customer's PDF statement."""
    journal: Path | None
    """``journal_<cycle>.csv``; None when the warehouse has no accounting journal."""
    has_lines: bool
    """False for a cycle without bill lines (the report still exists and says so)."""

    @property
    def paths(self) -> list[Path]:
        """Every file written, in a stable order (for run metadata and logs)."""
        return [self.html, self.xlsx, *self.csv_by_mart.values(), self.bill_lines_parquet,
                *([self.journal] if self.journal else []),
                *self.customer_bills.values(), *self.customer_statements.values()]


def render_month_close(
    con: duckdb.DuckDBPyConnection,
    bill_cycle: str,
    out_dir: Path,
    notes: Sequence[str] = (),
    *,
    api_configured: bool | None = None,
    account: ReportAccount | None = None,
) -> MonthCloseReport:
    """Render the month close of ``bill_cycle`` (``YYYY-MM``) into ``out_dir``.

    ``con`` must see the ``REQUIRED_TABLES``; it is only read. The
    reconciliation marts (``marts.reconciliation_findings``, the tie-outs, incentives, budgets,
    coupons) are shown when present; a missing one makes its section say so.
    ``notes`` are caller remarks shown at the top of the page and on the Summary sheet, e.g.
    ``"BSS API not configured: tie-outs skipped"``. ``api_configured=False`` says the BSS partner
    API is not configured, so the areas that compare with it read "not available"; None lets the
    data decide. ``account`` (the partner account of partners.toml) is named in the page's header and
    the Summary sheet, and labels the amounts with its currency; None keeps USD and no account line.
    """
    bill_cycle = str(BillCycle.parse(bill_cycle))  # a ValueError unless 'YYYY-MM': it becomes part of file names
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notes = [str(note) for note in notes]

    html_path = out_dir / f"month_close_{bill_cycle}.html"
    xlsx_path = out_dir / f"month_close_{bill_cycle}.xlsx"

    # No transaction of our own around the reads: a failed BEGIN inside the caller's open
    # transaction would abort it, and DuckDB cannot tell us whether one is open. The pipeline
    # renders after the marts are committed, with a single writer (docs/architecture.md#reliability-rules).
    journal_present = has_journal(con)
    if journal_present and (note := chart_note(con, bill_cycle)):
        notes.append(note)
    # Every reader of the month's bill lines reads one rated copy of them (reports/pack_lines.py):
    # each query on marts.customer_bill_line would rate the month again.
    with rated_once(con, bill_cycle) as lines:
        data = replace(load_month_close_data(con, bill_cycle, lines.table), account=account)
        reconciliation = load_reconciliation_data(con, bill_cycle, api_configured, data.currency)
        recon_exports = reconciliation_exports(reconciliation.present_tables)
        write_month_close_workbook(xlsx_path, con, data, notes, reconciliation, lines.export)
        csv_by_mart = {
            export.name: write_table_csv(out_dir, con, export, bill_cycle)
            for export in (*exports.CSV_EXPORTS, *recon_exports) if export is not exports.CUSTOMER_BILL_LINE
        }
        # the largest exports and the customer bills come from one pass over the month's lines, while
        # worker processes render the PDF statements beside them (both keep a core busy)
        names = bill_names(out_dir, lines)
        with customer_statements_rendered(con, bill_cycle, names.directory, names.path, data.currency,
                                          lines.table) as customer_statements:
            bill_lines = write_customer_bills(out_dir, lines, data.currency, names)
    if bill_lines.csv is not None:
        csv_by_mart[exports.CUSTOMER_BILL_LINE.name] = bill_lines.csv
    csv_by_mart = {export.name: csv_by_mart[export.name] for export in (*exports.CSV_EXPORTS, *recon_exports)
                   if export.name in csv_by_mart}
    csv_names = [path.name for path in csv_by_mart.values()]
    customer_bills = bill_lines.bills
    journal = write_journal_csv(out_dir, con, bill_cycle) if journal_present else None
    # The page last: it lists the other files, and a reader who sees it can find them all.
    write_month_close_html(
        html_path, data, reconciliation, notes,
        companion_files=[xlsx_path.name, *csv_names, bill_lines.parquet.name, *([journal.name] if journal else []),
                         "customer_bills/"],
        customer_documents=customer_documents(data, out_dir, customer_bills, customer_statements),
    )
    return MonthCloseReport(
        bill_cycle=bill_cycle,
        html=html_path,
        xlsx=xlsx_path,
        csv_by_mart=csv_by_mart,
        bill_lines_parquet=bill_lines.parquet,
        customer_bills=customer_bills,
        customer_statements=customer_statements,
        journal=journal,
        has_lines=data.has_lines,
    )


def customer_documents(data: MonthCloseData, out_dir: Path, customer_bills: Mapping[str, Path],
                       customer_statements: Mapping[str, Path]) -> list[dict]:
    """One row per billed customer, largest bill first: its name, total due and the links (relative
    to the pack's folder) to its statement and its lines."""
    rows = []
    for customer in data.customers:
        bill = customer_bills.get(customer["customer_id"])
        if bill is None:
            continue
        statement = customer_statements.get(customer["customer_id"])
        rows.append({**customer, "lines": bill.relative_to(out_dir).as_posix(),
                     "statement": statement.relative_to(out_dir).as_posix() if statement else None})
    return rows


