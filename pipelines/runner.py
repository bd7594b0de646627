"""Runs the assets of one bill cycle in-process (used by the `billrecon` command and the tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import dagster as dg

from pipelines.definitions import defs
from pipelines.jobs import WAREHOUSE_WRITER_TAG

# the command prints its own progress; Dagster's console logger only speaks up for errors
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass(frozen=True)
class CycleRun:
    bill_cycle: str
    success: bool
    failed_checks: list[str]
    failure: str | None


def all_assets() -> list:
    return list(defs.assets)


def run_cycle(bill_cycle: str, resources: Mapping[str, object], *, quiet: bool = True,
              instance: dg.DagsterInstance | None = None) -> CycleRun:
    """Materialize every asset for one cycle; returns whether it succeeded and what failed."""
    result = dg.materialize(
        all_assets(),
        partition_key=bill_cycle,
        resources=dict(resources),
        run_config=QUIET if quiet else None,
        instance=instance,
        tags=WAREHOUSE_WRITER_TAG,
        raise_on_error=False,
    )
    failed_checks = [
        f"{e.asset_key.to_user_string()}:{e.check_name}"
        for e in result.get_asset_check_evaluations() if not e.passed
    ]
    failure = None
    if not result.success:
        failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        failure = "; ".join(
            f"{e.step_key}: {e.event_specific_data.error.message.strip()}" for e in failures
        ) or "the run failed"
    return CycleRun(bill_cycle, result.success, failed_checks, failure)
