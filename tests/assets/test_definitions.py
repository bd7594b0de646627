"""The Definitions load as `dagster dev` loads them, with the assets, groups and automation of docs/architecture.md;
the SQL model assets and their graph are read from the files under sql/."""

import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pipelines.definitions import build_definitions, defs
from pipelines.jobs import month_close_job, nightly_job
from pipelines.lib.sql_models import ModelError
from pipelines.partitions import PARTNER_TAG, partition_key
from pipelines.resources import ObjectStoreResource
from pipelines.schedules import nightly_schedule
from pipelines.sensors import bill_file_sensor
from pipelines.settings import resources_from_env

SQL = Path(__file__).parents[2] / "sql"

API_DATASETS = {"customers", "resellers", "budgets", "coupons", "partner_coupons", "orders", "partner_monthly_bill",
                "customer_monthly_sums", "incentive_policies", "business_discounts", "partner_credit", "invoices",
                "service_types", "resource_types", "measure_units"}

EXPECTED_GROUPS = {
    "landing": {"landed_bill_file", "landed_usage_exports", "landed_agreements", "landed_incentive_statement",
                *(f"landed_api_{name}" for name in API_DATASETS)},
    "staging": {"stg_bill_lines", "stg_usage_lines", "stg_customer_discounts", "stg_incentive_statement",
                "stg_incentive_rates", "stg_chart_of_accounts", *(f"stg_api_{name}" for name in API_DATASETS)},
    # one asset per model file; focus_seeds writes the tables of the data files in sql/seeds
    "core": {f"core_{path.stem}" for path in (SQL / "core").glob("*.sql")} | {"focus_seeds"},
    "marts": {path.stem for path in (SQL / "marts").glob("*.sql")},
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
            assert "grain" in description.lower() and "source" in description.lower(), key


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


def test_schedule_sensor_and_partner_month_partitions():
    assert defs.resolve_schedule_def("nightly_schedule").cron_schedule == "0 2 * * *"
    assert defs.resolve_schedule_def("nightly_schedule").execution_timezone == "Asia/Shanghai"
    assert defs.resolve_sensor_def("bill_file_sensor") is not None
    # the UI shows what each does and when
    assert "02:00 GMT+8" in defs.resolve_schedule_def("nightly_schedule").description
    assert "customerBill/" in defs.resolve_sensor_def("bill_file_sensor").description
    # every job runs one account's month: Dagster tags its runs with the partner, which the run queue limits
    for job in ("month_close", "nightly_refresh"):
        partitions = defs.resolve_job_def(job).partitions_def
        assert [dimension.name for dimension in partitions.partitions_defs] == ["month", "partner"]
        assert partitions.get_partition_keys()[0] == "2024-01|default"
        assert "billrecon/warehouse-writer" not in defs.resolve_job_def(job).tags


@pytest.mark.parametrize(("local_time", "partition", "run_key"), [
    (dt.datetime(2026, 12, 1, 2, 0), "2026-12", "nightly-2026-12-01-default"),
    (dt.datetime(2027, 1, 1, 2, 0), "2027-01", "nightly-2027-01-01-default"),   # in UTC still 2026-12-31
    (dt.datetime(2024, 2, 29, 2, 0), "2024-02", "nightly-2024-02-29-default"),
])
def test_the_nightly_schedule_refreshes_the_gmt8_month_it_runs_in(local_time, partition, run_key):
    moment = local_time.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    [request] = nightly_schedule(dg.build_schedule_context(scheduled_execution_time=moment))
    assert (request.partition_key, request.run_key) == (partition_key(partition), run_key)


def test_the_bill_file_sensor_closes_the_month_each_bill_key_names(tmp_path):
    bills = tmp_path / "customerBill"
    bills.mkdir()
    for name in ("customerBill_202612.tar.gz", "customerBill_202701.tar.gz", "customerBill_202613.tar.gz",
                 "customerBill_2026-12.tar.gz", "copy_of_customerBill_202611.tar.gz"):
        (bills / name).write_bytes(b"bill")
    with dg.build_sensor_context(resources={"object_store": ObjectStoreResource(inbox_dir=str(tmp_path))}) as context:
        requests = list(bill_file_sensor(context))
    assert sorted((r.partition_key, r.run_key.split("@")[0]) for r in requests) == [
        (partition_key("2026-12"), "default:customerBill/customerBill_202612.tar.gz"),
        (partition_key("2027-01"), "default:customerBill/customerBill_202701.tar.gz"),
    ]


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


def test_dagster_yaml_queues_one_run_per_partner_account(tmp_path):
    import shutil
    from pathlib import Path

    shutil.copy(Path(__file__).parents[2] / "pipelines" / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        queue = instance.run_coordinator.get_run_queue_config()
        assert queue.max_concurrent_runs == 4
        assert queue.tag_concurrency_limits == [
            {"key": PARTNER_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    finally:
        instance.dispose()


def test_a_stuck_run_is_failed_by_run_monitoring_after_four_hours(tmp_path):
    """Every job's runs carry Dagster's max_runtime tag, and both instance files turn on the daemon's run
    monitoring that acts on it: a hung run would otherwise hold its account's place in the queue for good."""
    import shutil
    from pathlib import Path

    from pipelines.jobs import month_close_job, nightly_job

    for job in (month_close_job, nightly_job):
        assert job.tags["dagster/max_runtime"] == str(4 * 60 * 60)
    root = Path(__file__).parents[2]
    shutil.copy(root / "pipelines" / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_poll_interval_seconds == 120
    finally:
        instance.dispose()
    # deploy/dagster.yaml's: tests/assets/test_deploy.py


def test_a_held_delivery_fails_a_warning_check_on_each_source_that_can_be_held():
    specs = {(s.asset_key.to_user_string(), s.name): s for a in defs.assets for s in a.check_specs}
    held_checks = sorted(asset for asset, name in specs if name == "no_held_delivery")
    assert held_checks == ["stg_bill_lines", "stg_chart_of_accounts", "stg_customer_discounts",
                           "stg_incentive_rates", "stg_incentive_statement"]
    # the month keeps its previous delivery: nothing downstream has to wait for the check
    assert not [a for a in held_checks if specs[(a, "no_held_delivery")].blocking]
    thresholds = resources_from_env({"BILLRECON_HOLD_MAX_LINE_DROP_PERCENT": "35"})["warehouse"]
    assert thresholds.hold_max_line_drop_percent == dg.EnvVar.int("BILLRECON_HOLD_MAX_LINE_DROP_PERCENT")


# ------------------------------------------------------------------------------------------ the model graph

def parents(definitions: dg.Definitions, name: str) -> set[str]:
    return {key.to_user_string() for key in definitions.resolve_asset_graph().get(dg.AssetKey(name)).parent_keys}


def test_model_assets_depend_on_what_their_sql_reads():
    assert parents(defs, "customer_monthly_expenditure") == {"core_rated_bill_line"}
    assert parents(defs, "core_rated_bill_line") == {"core_line_agreement", "core_refund_original_order",
                                                     "stg_bill_lines"}
    assert parents(defs, "core_line_agreement") == {"core_customer_discount_rule", "core_refund_original_order",
                                                    "stg_bill_lines"}
    # a refund's original order: the bill files, else the API's orders, else its commercial discounts
    assert parents(defs, "core_refund_original_order") == {"stg_bill_lines", "stg_api_orders",
                                                           "stg_api_business_discounts"}
    assert parents(defs, "core_customer_discount_rule") == {"stg_customer_discounts"}
    # API staging tables map to the asset that stages them (declared with the tables it writes)
    assert parents(defs, "partner_bill_tieout") == {"core_bill_file_cycle", "stg_bill_lines",
                                                    "stg_api_partner_monthly_bill"}
    assert parents(defs, "reconciliation_findings") == {
        "partner_bill_tieout", "customer_bill_tieout", "discount_audit", "incentive_reconciliation", "budget_status",
        "core_coupon_expiry_finding", "core_coupon_balance_finding", "core_open_month"}
    # views are assets too: their readers run after them
    assert parents(defs, "core_usage_month") == {"core_bill_file_cycle", "stg_usage_lines"}
    assert parents(defs, "core_open_month") == {"core_usage_month"}
    # an audit table maps to every asset that writes it
    staging = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()
               if key.to_user_string().startswith("stg_")}
    assert parents(defs, "restatement") == {"stg_bill_lines"}
    # the journal's models are assets by being files
    assert parents(defs, "core_chart_of_accounts") == {"stg_chart_of_accounts"}
    assert parents(defs, "accounting_journal") == {"customer_monthly_expenditure", "incentive_reconciliation",
                                                   "core_chart_of_accounts", "stg_api_resellers"}
    # the tables of the data files in sql/seeds map to the asset that writes them
    assert parents(defs, "core_focus_charge") == {"core_rated_bill_line", "core_focus_billing_period", "focus_seeds",
                                                  "stg_bill_lines", "stg_api_resellers"}
    assert parents(defs, "focus_customer_billing") == {"core_focus_charge"}
    assert {"focus_partner_cost", "focus_customer_billing"} <= parents(defs, "month_close_report")
    assert parents(defs, "core_bill_file_cycle") == staging


def test_no_core_asset_reads_a_mart_and_reports_read_marts_only():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        upstream_groups = {graph.get(parent).group_name for parent in node.parent_keys}
        if node.group_name == "core":
            assert upstream_groups <= {"staging", "landing", "core"}, key
        if node.group_name == "reports" and key.to_user_string() != "published_warehouse":
            assert upstream_groups == {"marts"}, key
    assert parents(defs, "daily_flash_report") == {"daily_spend", "customer_monthly_expenditure", "budget_status"}
    assert parents(defs, "discount_audit") >= {"core_discount_finding", "customer_monthly_expenditure"}


def test_a_new_model_file_is_a_new_asset_with_an_edge_per_table_it_reads(tmp_path):
    sql = tmp_path / "sql"
    shutil.copytree(SQL, sql)
    (sql / "marts" / "customer_margin_by_reseller.sql").write_text(
        "-- materialized: view\n"
        "-- marts.customer_margin_by_reseller: margins per reseller.\n"
        "-- grain: bill_cycle × reseller. Source: the expenditure mart and the current customers.\n"
        "with expenditure as (\n    select * from marts.customer_monthly_expenditure\n),\n\n"
        "customers as (\n    select * from core.current_customer\n),\n\n"
        "final as (\n    select expenditure.bill_cycle, customers.indirect_partner_id, sum(margin_amount) as margin_amount\n"
        "    from expenditure join customers using (customer_id)\n    group by all\n)\n\n"
        "select * from final\n", encoding="utf-8")

    definitions = build_definitions(sql)

    assert parents(definitions, "customer_margin_by_reseller") == {"customer_monthly_expenditure",
                                                                   "core_current_customer"}
    node = definitions.resolve_asset_graph().get(dg.AssetKey("customer_margin_by_reseller"))
    assert node.group_name == "marts"
    assert "customer_margin_by_reseller" not in {key.to_user_string()
                                                 for key in defs.resolve_asset_graph().get_all_asset_keys()}


@pytest.mark.parametrize(("path", "sql", "message"), [
    ("core/margin_finding.sql", "-- materialized: table\nselect * from marts.customer_monthly_expenditure\n",
     "sql/core/margin_finding.sql reads marts.customer_monthly_expenditure: a core model reads landing, audit, "
     "staging, core only"),
    ("marts/typo.sql", "-- materialized: table\nselect * from staging.bill_lines\n",
     "sql/marts/typo.sql reads staging.bill_lines, which no model or asset writes"),
    ("marts/no_schema.sql", "-- materialized: table\nselect * from bill_line\n",
     "sql/marts/no_schema.sql reads bill_line without its schema: name it as schema.table"),
    ("marts/no_header.sql", "select * from staging.bill_line\n",
     "sql/marts/no_header.sql: the first line must be '-- materialized: partition|table|view'"),
    ("marts/broken.sql", "-- materialized: table\nselect * from (staging.bill_line\n", "sql/marts/broken.sql cannot be parsed"),
    ("core/loop.sql", "-- materialized: view\nselect * from core.loop_back\n", "the models read each other in a circle"),
])
def test_a_model_that_cannot_join_the_graph_stops_the_definitions_with_its_file_named(tmp_path, path, sql, message):
    shutil.copytree(SQL, tmp_path / "sql")
    (tmp_path / "sql" / path).write_text(sql, encoding="utf-8")
    if path == "core/loop.sql":
        (tmp_path / "sql" / "core" / "loop_back.sql").write_text("-- materialized: view\nselect * from core.loop\n",
                                                                 encoding="utf-8")
    with pytest.raises(ModelError) as raised:
        build_definitions(tmp_path / "sql")
    assert message in str(raised.value)


def test_hooks_of_a_model_without_its_file_stop_the_definitions(tmp_path):
    shutil.copytree(SQL, tmp_path / "sql")
    (tmp_path / "sql" / "marts" / "restatement.sql").unlink()
    with pytest.raises(ModelError, match="hooks for marts.restatement, which no file of sql/ builds"):
        build_definitions(tmp_path / "sql")


def test_nightly_refresh_selects_the_nights_sources_and_what_reads_them():
    graph = defs.resolve_asset_graph()
    selected = {key.to_user_string()
                for key in nightly_job.selection.resolve(graph)}
    everything = {key.to_user_string() for key in graph.get_all_asset_keys()}
    # landing and staging the bill file and the incentive statement are month-close work
    assert everything - selected == {"landed_bill_file", "stg_bill_lines", "landed_incentive_statement",
                                     "stg_incentive_statement"}
    # every model a selected asset reads is built too, so a first night on a new warehouse has them all
    for key in nightly_job.selection.resolve(graph):
        assert {parent.to_user_string() for parent in graph.get(key).parent_keys
                if graph.get(parent).group_name in ("core", "marts")} <= selected, key
    assert {"landed_usage_exports", "stg_usage_lines", "landed_agreements", "stg_customer_discounts",
            "landed_api_budgets", "stg_api_budgets", "budget_status", "daily_spend", "daily_flash_report",
            "month_close_report", "published_warehouse"} <= selected
    assert month_close_job.selection.resolve(graph) == graph.get_all_asset_keys()
