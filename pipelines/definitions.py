"""The billrecon code location: `dagster dev` and the `billrecon` command load these definitions."""

from __future__ import annotations

import dagster as dg

from pipelines.assets import api, core, incentive_files, journal, landing, marts, reconciliation, reports, staging
from pipelines.jobs import month_close_job, nightly_job
from pipelines.schedules import nightly_schedule
from pipelines.sensors import bill_file_sensor
from pipelines.settings import resources_from_env

ALL_ASSET_MODULES = [landing, api, staging, incentive_files, core, marts, reconciliation, journal, reports]

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(ALL_ASSET_MODULES),
    jobs=[month_close_job, nightly_job],
    schedules=[nightly_schedule],
    sensors=[bill_file_sensor],
    resources=resources_from_env(),
    # one DuckDB writer per file: assets of a run execute one after another in one process
    executor=dg.in_process_executor,
)
