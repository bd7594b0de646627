"""The incentive files: the monthly incentive statement finance exports from Partner Center
(incentives/incentive_statement_YYYYMM.csv) landed and staged per bill cycle, and the partner
programme's rebate rates (agreements/incentive_rates.csv, landed with the other agreements)."""


import dagster as dg

from pipelines.assets.landing import land_prefix, landed_agreements, listed, with_ignored
from pipelines.assets.staging import (
    already_applied,
    audit_totals,
    stage_agreement_file,
    stage_unless_held,
    staging_check_specs,
    staging_result,
)
from pipelines.assets.tables import stages, writes
from pipelines.lib.holds import incentive_rates_gauge, statement_gauge
from pipelines.lib.landing import current_delivery, record_ignored_monthly_copies
from pipelines.lib.statements import (
    INCENTIVE_RATES_KEY,
    STATEMENT_PREFIX,
    STATEMENT_SOURCE,
    stage_incentive_rates,
    stage_incentive_statement,
    statement_key,
)
from pipelines.partitions import account_month_partitions, run_month
from pipelines.resources import ObjectStoreResource, WarehouseResource
from schemas.bill_cycle import BillCycle


@dg.asset(group_name="landing", partitions_def=account_month_partitions, kinds={"s3", "duckdb"},
          metadata=writes("landing.objects", "audit.ignored_objects"))
def landed_incentive_statement(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                               object_store: ObjectStoreResource) -> dg.MaterializeResult:
    """The incentive statement of the cycle, landed if new or re-delivered (new ETag).

    Grain: one delivery of `incentives/incentive_statement_YYYYMM.csv`. Source: the OBS bucket or inbox,
    where finance drops the export of Partner Center's incentive details (HUAWEI CLOUD has no API for it).
    Other objects under incentives/ that name the period (a second export, a copy) are not loaded; they
    are listed in audit.ignored_objects with the reason.
    """
    cycle = BillCycle.parse(run_month(context))
    key = statement_key(run_month(context))
    result = land_prefix(context, warehouse, object_store, key)
    listing = listed(object_store, STATEMENT_PREFIX)
    return with_ignored(context, warehouse, result, lambda con: record_ignored_monthly_copies(
        con, STATEMENT_SOURCE, listing, key, cycle, "incentive statement"))


@dg.asset(group_name="staging", partitions_def=account_month_partitions, deps=[landed_incentive_statement],
          check_specs=staging_check_specs("stg_incentive_statement"), kinds={"duckdb", "polars"},
          metadata=stages("staging.incentive_statement"))
def stg_incentive_statement(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Typed, validated lines of the cycle's incentive statement (staging.incentive_statement).

    Grain: one statement line. Source: the newest delivery of incentives/incentive_statement_YYYYMM.csv;
    a line of another period than the file's is quarantined (STATEMENT.PERIOD_MISMATCH). A re-delivery that
    cannot be read whole or drops most lines is held (audit.held_deliveries) and the period keeps its statement.
    """
    cycle = run_month(context)
    key = statement_key(cycle)
    with warehouse.connect() as con:
        delivery = current_delivery(con, key, warehouse.landing_path)
        if delivery is None:
            context.log.info(f"no incentive statement for {cycle} ({key}) yet")
            return staging_result(audit_totals(con, STATEMENT_SOURCE, cycle), "stg_incentive_statement",
                           skipped=f"no incentive statement for {cycle} yet")
        if already_applied(con, STATEMENT_SOURCE, key, delivery.etag, cycle, warehouse.member_limits()):
            return staging_result(audit_totals(con, STATEMENT_SOURCE, cycle), "stg_incentive_statement",
                                  skipped="unchanged", key=key)
        staged, held = stage_unless_held(context, warehouse, con, delivery, STATEMENT_SOURCE, cycle,
                                         lambda: stage_incentive_statement(con, delivery, cycle, context.run_id,
                                                                           warehouse.member_limits()),
                                         statement_gauge(cycle))
        return staging_result(audit_totals(con, STATEMENT_SOURCE, cycle), "stg_incentive_statement", held=held,
                              key=key, staged=staged)


@dg.asset(group_name="staging", partitions_def=account_month_partitions, deps=[landed_agreements],
          check_specs=staging_check_specs("stg_incentive_rates"), kinds={"duckdb", "polars"},
          metadata=stages("staging.incentive_rate"))
def stg_incentive_rates(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The partner programme's rebate rates per incentive type and policy code (staging.incentive_rate).

    Grain: one rate with its validity. Source: the newest delivery of agreements/incentive_rates.csv.
    Without it, no rate is agreed and every expected incentive is 0.
    """
    return stage_agreement_file(context, warehouse, INCENTIVE_RATES_KEY, "stg_incentive_rates", stage_incentive_rates,
                                incentive_rates_gauge(),
                                when_missing="no rebate rate is agreed, every expected incentive is 0",
                                skipped="no incentive rates file")
