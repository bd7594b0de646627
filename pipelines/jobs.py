"""Jobs. Every job writes the warehouse, so every run carries the writer concurrency tag that
pipelines/dagster.yaml limits to one run at a time (DuckDB allows one writing process per file)."""

import dagster as dg

from pipelines.partitions import bill_cycle_partitions

WAREHOUSE_WRITER_TAG = {"billrecon/warehouse-writer": "duckdb"}

month_close_job = dg.define_asset_job(
    "month_close",
    selection=dg.AssetSelection.all(),
    partitions_def=bill_cycle_partitions,
    tags=WAREHOUSE_WRITER_TAG,
    description="Land, stage, model and report one bill cycle.",
)

nightly_job = dg.define_asset_job(
    "nightly_refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=bill_cycle_partitions,
    tags=WAREHOUSE_WRITER_TAG,
    description="Refresh the open month: pull the BSS partner APIs, land the newest usage export and agreements, "
                "and refresh what depends on them up to the month-to-date marts and reports.",
)
