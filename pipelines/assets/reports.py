"""Report assets: the month-close pack finance reads (HTML, XLSX, CSV, one bill per customer)."""


from pathlib import Path

import dagster as dg

from pipelines.assets.marts import customer_bill_line, customer_monthly_expenditure, data_quality, restatement
from pipelines.partitions import bill_cycle_partitions
from pipelines.resources import BssApiResource, ReportsResource, WarehouseResource
from pipelines.lib.publish import publish
from reports.month_close import render_month_close

API_SKIPPED_NOTE = (
    "BSS partner API not configured (BILLRECON_BSS_ENDPOINT is not set): the tie-outs against HUAWEI "
    "CLOUD's monthly bill, the discount audit against commercial discounts, incentives, budgets and "
    "coupons are not part of this pack. Everything fed by the bill files is complete."
)


def report_notes(bss: BssApiResource, bill_file_present: bool, bill_cycle: str, lines_read: int = 0) -> list[str]:
    notes = []
    if not bill_file_present:
        notes.append(f"No partner bill file has been delivered for {bill_cycle} yet: the month is open or late "
                     "(HUAWEI CLOUD delivers it before 12:00 GMT+8 on the 5th of the next month).")
    elif lines_read == 0:
        notes.append(f"The partner bill file for {bill_cycle} was delivered but holds no lines (or none that "
                     "could be read): check the data quality section before closing the month.")
    if not bss.configured:
        notes.append(API_SKIPPED_NOTE)
    return notes


@dg.asset(group_name="reports", partitions_def=bill_cycle_partitions,
          deps=[customer_monthly_expenditure, customer_bill_line, data_quality, restatement], kinds={"html", "excel", "csv"})
def month_close_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       reports: ReportsResource, bss_api: BssApiResource) -> dg.MaterializeResult:
    """The month-close pack of the cycle under `<reports>/<bill_cycle>/`.

    Grain: one pack per bill cycle. Source: marts.customer_monthly_expenditure, marts.customer_bill_line,
    marts.data_quality, audit.findings, audit.quarantine.
    """
    cycle = context.partition_key
    with warehouse.connect() as con:
        loads, lines_read = con.execute(
            "select count(*), coalesce(sum(rows_read), 0) from audit.loads where source = 'customerBill' "
            "and bill_cycle = ?", [cycle]).fetchone()
        notes = report_notes(bss_api, loads > 0, cycle, lines_read)
        for note in notes:
            context.log.warning(note)
        report = render_month_close(con, cycle, reports.cycle_dir(cycle), notes)
    return dg.MaterializeResult(metadata={
        "html": dg.MetadataValue.path(str(report.html)),
        "xlsx": dg.MetadataValue.path(str(report.xlsx)),
        "customer_bills": len(report.customer_bills),
        "notes": dg.MetadataValue.json(notes),
    })


@dg.asset(group_name="reports", partitions_def=bill_cycle_partitions, deps=[month_close_report], kinds={"duckdb"})
def published_warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The read-only warehouse snapshot analysts query, replaced by atomic rename after a good run.

    Grain: the whole warehouse file. Source: the working warehouse, after every other asset of the run.
    """
    copied = publish(Path(warehouse.path), warehouse.published)
    path = warehouse.published
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path)),
                                          "bytes": path.stat().st_size,
                                          "copied": copied})  # False: the published copy was already current
