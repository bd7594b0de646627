"""Report assets: the month-close pack finance reads (HTML, XLSX, CSV, one bill per customer) and the
daily flash of the open month."""


import json
from dataclasses import replace
from pathlib import Path

import dagster as dg

from pipelines.assets.models import model_key
from pipelines.lib.fingerprint import warehouse_fingerprint
from pipelines.lib.lake_publish import account_row, publish_to_lake
from pipelines.lib.lakehouse import Partition
from pipelines.lib.partners import Partner, named_account, partner_account
from pipelines.lib.publish import publish
from pipelines.partitions import account_month_partitions, run_month, run_partner
from pipelines.resources import BssApiResource, ReportsResource, WarehouseResource, expected_failures
from pipelines.settings import SETTINGS
from reports.daily_flash import render_daily_flash
from reports.exports import (
    BILL_LINE_TABLE,
    CHART_TABLE,
    DATA_QUALITY_TABLE,
    EXPENDITURE_TABLE,
    JOURNAL_TABLE,
    RESTATEMENT_TABLE,
)
from reports.flash_data import DAILY_SPEND_TABLE, newest_export_date
from reports.focus_export import MART_TABLES as FOCUS_TABLES
from reports.focus_export import VIEWS, export, is_closed, pack_file_name
from reports.formatting import CURRENCY
from reports.month_close import render_month_close
from reports.month_close_data import load_month_close_data
from reports.notes import bill_file_loads, report_notes
from reports.reconciliation import load_reconciliation_data
from reports.reconciliation_areas import BUDGET_TABLE, RECONCILIATION_TABLES
from reports.verdict import month_close_verdict

# the model tables each report reads, as the reports name them: the report assets' upstream
MONTH_CLOSE_READS = (EXPENDITURE_TABLE, BILL_LINE_TABLE, DATA_QUALITY_TABLE, RESTATEMENT_TABLE, JOURNAL_TABLE,
                     CHART_TABLE, *RECONCILIATION_TABLES, *FOCUS_TABLES)
DAILY_FLASH_READS = (DAILY_SPEND_TABLE, EXPENDITURE_TABLE, BUDGET_TABLE)

NOT_THE_OPEN_MONTH = "not the open month"

@dg.asset(group_name="reports", partitions_def=account_month_partitions,
          deps=[model_key(table) for table in MONTH_CLOSE_READS],
          kinds={"html", "excel", "csv", "pdf", "parquet"})
def month_close_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       reports: ReportsResource, bss_api: BssApiResource) -> dg.MaterializeResult:
    """The month-close pack of the cycle under `<reports>/<bill_cycle>/`, with the accounting journal
    (`journal_<cycle>.csv`) and one bill (CSV) and statement (PDF) per customer in `customer_bills/`.

    Grain: one pack per bill cycle. Source: marts.customer_monthly_expenditure, marts.customer_bill_line,
    marts.accounting_journal, marts.chart_of_accounts,
    marts.data_quality, audit.findings, audit.quarantine, and the reconciliation marts (tie-outs, discount
    audit, incentives, budgets, coupons, reconciliation_findings), each section saying so when its mart is absent.
    With BILLRECON_FOCUS_EXPORTS=1 (on in `billrecon demo`), a closed month's pack also holds its two FOCUS
    exports (marts.focus_partner_cost, marts.focus_customer_billing).
    """
    cycle = run_month(context)
    with warehouse.connect() as con:
        reports.remove_abandoned_files()
        loads, lines_read = bill_file_loads(con, cycle)
        notes = report_notes(bss_api.configured, loads > 0, cycle, lines_read)
        for note in notes:
            context.log.warning(note)
        folder = reports.cycle_dir(cycle)
        account = named_account(run_partner(context))
        inputs = report_inputs(con, cycle, notes, bss_api.configured, reports.writes_focus, account)
        html = folder / f"month_close_{cycle}.html"
        if html.exists() and read_stamp(folder) == inputs:
            # same warehouse content, notes and code as the pack on disk: its bytes would not change
            return dg.MaterializeResult(metadata={"html": dg.MetadataValue.path(str(html)),
                                                  "unchanged": True, "notes": dg.MetadataValue.json(notes)})
        # a reports folder that cannot be written, whatever the file system answers, is the setting's
        with expected_failures({reports.out_dir: SETTINGS["reports"]["out_dir"]}):
            report = render_month_close(con, cycle, folder, notes, api_configured=bss_api.configured,
                                        account=account)
            if reports.writes_focus and is_closed(con, cycle):
                for view in VIEWS:
                    export(con, cycle, view, folder / pack_file_name(view, cycle))
            write_stamp(folder, inputs)
    return dg.MaterializeResult(metadata={
        "html": dg.MetadataValue.path(str(report.html)),
        "xlsx": dg.MetadataValue.path(str(report.xlsx)),
        "customer_bills": len(report.customer_bills),
        "customer_statements": len(report.customer_statements),
        "journal": dg.MetadataValue.path(str(report.journal)) if report.journal else "no accounting journal",
        "notes": dg.MetadataValue.json(notes),
        "unchanged": False,
    })


STAMP_FILE = ".inputs.fingerprint"


def report_inputs(con, cycle: str, notes: list[str], api_configured: bool, focus_exports: bool = False,
                  account: Partner | None = None) -> str:
    """What a pack is made from: the warehouse's content fingerprint, the cycle, the notes, the API
    switch, whether it holds the FOCUS files and the account of partners.toml it names (if any)."""
    named = {"account": [account.id, account.name, account.currency]} if account else {}
    return json.dumps({"warehouse": warehouse_fingerprint(con), "cycle": cycle, "notes": notes,
                       "api_configured": api_configured, "focus_exports": focus_exports, **named}, sort_keys=True)


def read_stamp(folder: Path) -> str | None:
    stamp = folder / STAMP_FILE
    return stamp.read_text(encoding="utf-8") if stamp.exists() else None


def write_stamp(folder: Path, inputs: str) -> None:
    # written after the pack: a run killed while rendering leaves no stamp, and the next run renders
    (folder / STAMP_FILE).write_text(inputs, encoding="utf-8")


@dg.asset(group_name="reports", partitions_def=account_month_partitions,
          deps=[model_key(table) for table in DAILY_FLASH_READS],
          kinds={"html", "csv"})
def daily_flash_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       reports: ReportsResource, bss_api: BssApiResource) -> dg.MaterializeResult:
    """The daily flash of the open month: `<reports>/<bill_cycle>/daily_flash_<export date>.html` and `.csv`.

    Grain: one page (and one per-customer CSV) per usage export date of the open month. Source:
    marts.daily_spend (month to date at list price from the newest usage export; the same days of the
    previous cycle from its bill file, or its usage export when that bill file is absent),
    marts.budget_status. Only the open month (usage exports staged, no bill file yet) gets one; any
    other cycle materializes with "not the open month".
    """
    cycle = run_month(context)
    with warehouse.connect() as con:
        reports.remove_abandoned_files()
        loads, _ = bill_file_loads(con, cycle)
        if loads or newest_export_date(con, cycle) is None:
            reason = "the bill file has been delivered" if loads else "no usage export is staged"
            context.log.info(f"no daily flash for {cycle}: {NOT_THE_OPEN_MONTH} ({reason})")
            return dg.MaterializeResult(metadata={"skipped": NOT_THE_OPEN_MONTH, "reason": reason})
        # without the BSS API the budget section says so itself
        account = named_account(run_partner(context))  # its amounts are in the account's currency
        flash = render_daily_flash(con, cycle, reports.cycle_dir(cycle), api_configured=bss_api.configured,
                                   currency=account.currency if account else CURRENCY)
    return dg.MaterializeResult(metadata={
        "html": dg.MetadataValue.path(str(flash.html)),
        "csv": dg.MetadataValue.path(str(flash.csv)),
        "export_date": flash.export_date.isoformat(),
    })


@dg.asset(group_name="reports", partitions_def=account_month_partitions, deps=[month_close_report, daily_flash_report],
          kinds={"duckdb"})
def published_warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        bss_api: BssApiResource) -> dg.MaterializeResult:
    """What analysts query: the read-only warehouse snapshot, replaced by atomic rename after a good run;
    or, when BILLRECON_WAREHOUSE names a DuckLake, the partner's month replaced in the lake in one
    transaction, committed as the snapshot of this run.

    Grain: the whole warehouse file; in the lake, one partner account's bill cycle. Source: the working
    warehouse, after every other asset of the run.
    """
    lake = warehouse.lake_settings()
    if lake is not None:
        cycle, partner_id = run_month(context), run_partner(context)
        with warehouse.connect() as con:  # the verdict of the month's pack: the account's close status
            data = replace(load_month_close_data(con, cycle), account=named_account(run_partner(context)))
            verdict = month_close_verdict(data,
                                          load_reconciliation_data(con, cycle, bss_api.configured))
        account = account_row(partner_account(partner_id), run_id=context.run_id, bill_cycle=cycle,
                              close_status=verdict.level, close_headline=verdict.headline)
        warehouse.release_file()  # the lake attaches the working file, which no other database may hold
        with expected_failures():
            commit = publish_to_lake(Path(warehouse.path), lake, Partition(partner_id, cycle),
                                     run_id=context.run_id, account=account, logger=context.log)
        return dg.MaterializeResult(metadata={"lake_snapshot": commit.snapshot_id, "commit_attempts": commit.attempts,
                                              "partner_account_id": partner_id,
                                              "copied": commit.attempts > 0})  # False: the lake already held it
    with expected_failures():
        copied = publish(Path(warehouse.path), warehouse.published)
    path = warehouse.published
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path)),
                                          "bytes": path.stat().st_size,
                                          "copied": copied})  # False: the published copy was already current
