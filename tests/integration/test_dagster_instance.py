"""The demo's Dagster instance is kept: runs made on it the way `billrecon demo` makes them are there
for a new instance opened on the same folder, as `make dev` opens it (tests use a temporary folder,
never the project's .dagster_home)."""

import dagster as dg

from pipelines.instance import SETTINGS, project_instance
from pipelines.partitions import PARTNER_TAG, partition_key
from pipelines.runner import run_cycle
from tests.integration.conftest import pipeline_resources

CYCLES = ["2026-08", "2026-09"]
KEYS = [partition_key(cycle) for cycle in CYCLES]  # the settings' one account, `default`


def test_a_new_instance_on_the_demo_folder_reports_the_materializations_checks_and_runs(tmp_path, world_dir):
    home = tmp_path / "dagster_home"
    resources = pipeline_resources(tmp_path, inbox=world_dir)
    instance = project_instance(home)
    try:
        outcomes = [run_cycle(cycle, resources, instance=instance) for cycle in CYCLES]
    finally:
        instance.dispose()
    assert [(o.bill_cycle, o.success, o.failed_checks) for o in outcomes] == [(c, True, []) for c in CYCLES]
    assert (home / "dagster.yaml").read_bytes() == SETTINGS.read_bytes()

    reopened = dg.DagsterInstance.from_config(str(home))
    try:
        for asset in ("stg_bill_lines", "customer_monthly_expenditure", "month_close_report", "published_warehouse"):
            assert reopened.get_materialized_partitions(dg.AssetKey(asset)) == set(KEYS), asset
        runs = reopened.get_runs()
        assert sorted(run.tags["dagster/partition"] for run in runs) == KEYS
        # the tag the run queue limits to one run per account
        assert all(run.is_success and run.tags[PARTNER_TAG] == "default" for run in runs)
        for run in runs:
            checks = {(e.asset_check_evaluation_data.asset_check_key.name, e.asset_check_evaluation_data.passed)
                      for e in (r.get_dagster_event() for r in reopened.all_logs(
                          run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION))}
            assert ("totals_equal_staged_lines", True) in checks
        # the instance runs with the project's settings: an account's runs queue one at a time
        limits = reopened.run_coordinator.get_run_queue_config().tag_concurrency_limits
        assert {"key": PARTNER_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    finally:
        reopened.dispose()
