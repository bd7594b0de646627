"""The Definitions load as `dagster dev` loads them, with the assets, groups and automation of docs/architecture.md."""

import dagster as dg

from pipelines.definitions import defs
from pipelines.settings import resources_from_env

API_DATASETS = {"customers", "resellers", "budgets", "coupons", "partner_coupons", "orders", "partner_monthly_bill",
                "customer_monthly_sums", "incentive_policies", "business_discounts", "partner_credit", "invoices",
                "service_types", "resource_types", "measure_units"}

EXPECTED_GROUPS = {
    "landing": {"landed_bill_file", "landed_usage_exports", "landed_agreements", "landed_incentive_statement",
                *(f"landed_api_{name}" for name in API_DATASETS)},
    "staging": {"stg_bill_lines", "stg_usage_lines", "stg_customer_discounts", "stg_incentive_statement",
                "stg_incentive_rates", "stg_chart_of_accounts", *(f"stg_api_{name}" for name in API_DATASETS)},
    "core": {"core_customer_discount_rule", "core_rated_bill_lines", "core_chart_of_accounts"},
    "marts": {"customer_monthly_expenditure", "customer_bill_line", "data_quality", "restatement",
              "partner_bill_tieout", "customer_bill_tieout", "discount_audit", "incentive_reconciliation",
              "budget_status", "coupon_status", "reconciliation_findings", "accounting_journal"},
    "reports": {"month_close_report", "daily_flash_report", "published_warehouse"},
}


def test_definitions_list_the_expected_assets_by_group():
    graph = defs.resolve_asset_graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    assert groups == EXPECTED_GROUPS


def test_every_asset_is_partitioned_by_bill_cycle_and_documents_its_grain():
    for assets_def in defs.assets:
        for key in assets_def.keys:
            assert assets_def.partitions_def is not None
            description = assets_def.descriptions_by_key[key]
            assert "Grain" in description and "Source" in description, key


def test_blocking_checks_guard_the_money():
    specs = {(s.asset_key.to_user_string(), s.name): s for a in defs.assets for s in a.check_specs}
    assert specs[("stg_bill_lines", "rows_read_equal_loaded_plus_quarantined")].blocking
    assert specs[("customer_monthly_expenditure", "totals_equal_staged_lines")].blocking
    assert specs[("accounting_journal", "debits_equal_credits")].blocking
    assert specs[("accounting_journal", "margin_equals_expenditure")].blocking
    for name in API_DATASETS:
        assert specs[(f"stg_api_{name}", "rows_read_equal_loaded_plus_quarantined")].blocking


def test_reconciliation_findings_are_reported_by_a_warning_check_that_blocks_nothing():
    specs = {(s.asset_key.to_user_string(), s.name): s for a in defs.assets for s in a.check_specs}
    assert not specs[("reconciliation_findings", "findings_by_area")].blocking
    reconciliation_marts = {"partner_bill_tieout", "customer_bill_tieout", "discount_audit", "incentive_reconciliation",
                            "budget_status", "coupon_status", "reconciliation_findings"}
    # a mismatch is a finding, not a broken pipeline
    assert not [key for key, spec in specs.items() if key[0] in reconciliation_marts and spec.blocking]


def test_schedule_sensor_and_writer_concurrency_tag():
    assert defs.resolve_schedule_def("nightly_schedule").cron_schedule == "0 2 * * *"
    assert defs.resolve_schedule_def("nightly_schedule").execution_timezone == "Asia/Shanghai"
    assert defs.resolve_sensor_def("bill_file_sensor") is not None
    assert defs.resolve_job_def("month_close").tags["billrecon/warehouse-writer"] == "duckdb"


def test_settings_become_env_vars_resolved_at_run_time():
    resources = resources_from_env({"BILLRECON_S3_SECRET_KEY": "x", "BILLRECON_DUCKDB_THREADS": "3"})
    # the secret is carried as a reference to the variable, not its value
    assert resources["object_store"].secret_key == dg.EnvVar("BILLRECON_S3_SECRET_KEY")
    assert resources["warehouse"].threads == dg.EnvVar.int("BILLRECON_DUCKDB_THREADS")
    assert resources["object_store"].endpoint_url is None
    assert resources["bss_api"].configured is False
    api = resources_from_env({"BILLRECON_BSS_ENDPOINT": "https://bss-intl.myhuaweicloud.com",
                              "BILLRECON_BSS_SK": "x", "BILLRECON_BSS_MAX_ATTEMPTS": "4"})["bss_api"]
    assert api.secret_key == dg.EnvVar("BILLRECON_BSS_SK")
    assert api.max_attempts == dg.EnvVar.int("BILLRECON_BSS_MAX_ATTEMPTS")


def test_dagster_yaml_queues_warehouse_writers_one_at_a_time(tmp_path):
    import shutil
    from pathlib import Path

    shutil.copy(Path(__file__).parents[2] / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
        assert {"key": "billrecon/warehouse-writer", "limit": 1} in limits
        job_tags = defs.resolve_job_def("month_close").tags
        assert job_tags["billrecon/warehouse-writer"] == "duckdb"
    finally:
        instance.dispose()
