"""The billrecon code location: `dagster dev` and the `billrecon` command load these definitions."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.assets import api, core, focus, incentive_files, landing, marts, reconciliation, reports, staging
from pipelines.assets.models import merge_hooks, model_assets
from pipelines.jobs import month_close_job, nightly_job
from pipelines.lib.warehouse import SQL_DIR
from pipelines.schedules import nightly_schedule
from pipelines.sensors import bill_file_sensor
from pipelines.settings import resources_from_env

# the assets that write what the SQL models read (landing, staging, the FOCUS data files of sql/seeds)
SOURCE_ASSET_MODULES = [landing, api, staging, incentive_files, focus]
MODEL_HOOKS = merge_hooks(core.MODEL_HOOKS, marts.MODEL_HOOKS, reconciliation.MODEL_HOOKS)


def build_definitions(sql_dir: Path = SQL_DIR) -> dg.Definitions:
    """The code location, with one asset per SQL model under `sql_dir` (sql/core, sql/marts)."""
    sources = dg.load_assets_from_modules(SOURCE_ASSET_MODULES)
    return dg.Definitions(
        assets=[*sources, *model_assets(sources, MODEL_HOOKS, sql_dir), *dg.load_assets_from_modules([reports])],
        jobs=[month_close_job, nightly_job],
        schedules=[nightly_schedule],
        sensors=[bill_file_sensor],
        resources=resources_from_env(),
        # one DuckDB writer per file: assets of a run execute one after another in one process
        executor=dg.in_process_executor,
    )


defs = build_definitions()
