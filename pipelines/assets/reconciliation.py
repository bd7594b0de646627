"""Reconciliation assets (docs/reconciliation.md): the tie-outs against HUAWEI CLOUD's monthly bills,
the discount audit, the incentives against the statement, budgets and coupons, and the one table of
every finding. The SQL models are under sql/core and sql/marts; severities and texts of the rules
come from schemas/rules.py (core.reconciliation_rule).

A mismatch is a finding, not a broken pipeline: no check here blocks anything. The findings check
reports the count per area as a warning.

Without a configured BSS API (BILLRECON_BSS_ENDPOINT), the marts fed by it only (partner_bill_tieout,
customer_bill_tieout, budget_status, coupon_status and the coupon findings) hold no rows for the
cycle, and say so in their metadata. The rules fed by the bill file and the partner's own files still
run: the line identities, negative margins, agreement overlaps and expiries, and the incentives, whose
rows show the statement beside the computed performance with status `policy_unknown` and raise
nothing (which services earn, and at which rate, is known from the API's incentive policies only).
"""


import dagster as dg

from pipelines.assets.api import SKIPPED, api_staging
from pipelines.assets.incentive_files import stg_incentive_rates, stg_incentive_statement
from pipelines.assets.marts import customer_monthly_expenditure
from pipelines.assets.staging import stg_bill_lines, stg_customer_discounts, stg_usage_lines
from pipelines.lib.reconciliation import findings_by_area, findings_by_rule, prepare
from pipelines.lib.sql_models import clear_model, run_model
from pipelines.lib.warehouse import transaction
from pipelines.partitions import bill_cycle_partitions
from pipelines.resources import BssApiResource, WarehouseResource

FINDINGS_BY_AREA = "findings_by_area"


def _api_fed(context, warehouse: WarehouseResource, bss_api: BssApiResource,
             models: list[tuple[str, str]]) -> dg.MaterializeResult:
    """Build `models` (layer, name) for the cycle, or, without the BSS API, leave them without rows."""
    cycle = context.partition_key
    with warehouse.connect() as con, transaction(con):
        prepare(con)
        if not bss_api.configured:
            for layer, name in models:
                clear_model(con, layer, name, cycle)
            context.log.info(f"{SKIPPED}: {', '.join(f'{layer}.{name}' for layer, name in models)} hold no rows")
            return dg.MaterializeResult(metadata={"note": SKIPPED})
        rows = {f"{layer}.{name}": run_model(con, layer, name, cycle) for layer, name in models}
    return dg.MaterializeResult(metadata={"rows": dg.MetadataValue.json(rows)})


def _status_counts(con, table: str, where: str = "true", parameters: list | None = None) -> dict[str, int]:
    return dict(con.execute(f"select status, count(*) from {table} where {where} group by status order by status",
                            parameters or []).fetchall())


def _tie_out(context: dg.AssetExecutionContext, warehouse: WarehouseResource, bss_api: BssApiResource,
             mart: str) -> dg.MaterializeResult:
    """Build a tie-out mart for the cycle and count its rows per status in the metadata."""
    result = _api_fed(context, warehouse, bss_api, [("marts", mart)])
    if bss_api.configured:
        with warehouse.connect() as con:
            result.metadata["statuses"] = dg.MetadataValue.json(_status_counts(
                con, f"marts.{mart}", "bill_cycle = ?", [context.partition_key]))
    return result


@dg.asset(group_name="marts", partitions_def=bill_cycle_partitions,
          deps=[stg_bill_lines, api_staging("partner_monthly_bill")], kinds={"duckdb", "sql"})
def partner_bill_tieout(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        bss_api: BssApiResource) -> dg.MaterializeResult:
    """Does the bill file add up to HUAWEI CLOUD's monthly bill, component by component, to the cent.

    Grain: bill_cycle × component (marts.partner_bill_tieout). Source: staging.bill_line and
    staging.api_partner_monthly_bill. No rows for the cycle while the BSS API is not configured.
    """
    return _tie_out(context, warehouse, bss_api, "partner_bill_tieout")


@dg.asset(group_name="marts", partitions_def=bill_cycle_partitions,
          deps=[stg_bill_lines, api_staging("customer_monthly_sums"), api_staging("customers")],
          kinds={"duckdb", "sql"})
def customer_bill_tieout(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                         bss_api: BssApiResource) -> dg.MaterializeResult:
    """Does each customer's total in the bill file match HUAWEI CLOUD's customer monthly sums, to the cent.

    Grain: bill_cycle × customer (marts.customer_bill_tieout). Source: staging.bill_line and
    staging.api_customer_monthly_sum. No rows for the cycle while the BSS API is not configured.
    """
    return _tie_out(context, warehouse, bss_api, "customer_bill_tieout")


@dg.asset(group_name="marts", partitions_def=bill_cycle_partitions,
          deps=[stg_bill_lines, stg_customer_discounts, customer_monthly_expenditure, api_staging("orders"),
                api_staging("incentive_policies"), api_staging("business_discounts"), api_staging("customers")],
          kinds={"duckdb", "sql"})
def discount_audit(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Bill lines, orders, customer services and agreement rules whose discounts break a rule.

    Grain: one finding (marts.discount_audit, a view: the cycle's findings in core.discount_finding
    plus the agreement overlaps of audit.findings). Source: staging.bill_line, audit.findings (line
    identities), marts.customer_monthly_expenditure (margins), staging.customer_discount, and from the
    BSS API orders, incentive policies and commercial discounts (rules fed by it find nothing
    without it).
    """
    cycle = context.partition_key
    with warehouse.connect() as con, transaction(con):
        prepare(con)
        rows = run_model(con, "core", "discount_finding", cycle)
        run_model(con, "marts", "discount_audit")
        by_rule = dict(con.execute(
            "select rule_id, count(*) from marts.discount_audit where bill_cycle = ? or bill_cycle is null "
            "group by rule_id order by rule_id", [cycle]).fetchall())
    return dg.MaterializeResult(metadata={"findings_this_cycle": rows, "by_rule": dg.MetadataValue.json(by_rule)})


@dg.asset(group_name="marts", partitions_def=bill_cycle_partitions,
          deps=[stg_bill_lines, stg_incentive_statement, stg_incentive_rates, api_staging("incentive_policies"),
                api_staging("customers"), api_staging("partner_credit")],
          kinds={"duckdb", "sql"})
def incentive_reconciliation(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The incentive the statement pays vs the incentive computed from the bill lines, with the expected
    reconciliation and payment dates and why a period is frozen.

    Grain: period × incentive type × service type (marts.incentive_reconciliation, rebuilt whole from
    the per-cycle performance in core.customer_service_performance). Source: staging.bill_line,
    staging.incentive_statement, staging.incentive_rate, and from the BSS API the incentive policies,
    customers and partner credit. Without the policies, rows say `policy_unknown` and raise nothing.
    """
    cycle = context.partition_key
    with warehouse.connect() as con, transaction(con):
        prepare(con)
        run_model(con, "core", "customer_service_performance", cycle)
        rows = run_model(con, "marts", "incentive_reconciliation")
        statuses = _status_counts(con, "marts.incentive_reconciliation", "period = ?", [cycle])
    return dg.MaterializeResult(metadata={"rows": rows, "statuses_this_period": dg.MetadataValue.json(statuses)})


@dg.asset(group_name="marts", partitions_def=bill_cycle_partitions,
          deps=[stg_bill_lines, stg_usage_lines, api_staging("budgets"), api_staging("customers")],
          kinds={"duckdb", "sql"})
def budget_status(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  bss_api: BssApiResource) -> dg.MaterializeResult:
    """Each customer's budget against its month-to-date spend at list price, thresholds and forecast.

    Grain: customer with a budget, as of the latest run (marts.budget_status, rebuilt whole). Source:
    staging.api_budget (newest snapshot), the open month's newest usage export (staging.usage_line),
    staging.api_customer. No rows while the BSS API is not configured.
    """
    result = _api_fed(context, warehouse, bss_api, [("marts", "budget_status")])
    with warehouse.connect() as con:
        result.metadata["statuses"] = dg.MetadataValue.json(_status_counts(con, "marts.budget_status"))
    return result


@dg.asset(group_name="marts", partitions_def=bill_cycle_partitions,
          deps=[stg_bill_lines, stg_usage_lines, api_staging("coupons"), api_staging("customers")],
          kinds={"duckdb", "sql"})
def coupon_status(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  bss_api: BssApiResource) -> dg.MaterializeResult:
    """Every coupon the customers hold: face value, balance, use on this month's bill lines, days to expiry;
    and the coupon findings (a coupon type used while no coupon was valid, or beyond the coupons' balance).

    Grain: coupon, as of the latest run (marts.coupon_status). Source: staging.api_coupon (newest snapshot)
    and the coupon-paid amounts of the bill lines (core.customer_coupon_use, per cycle). The coupon
    mart and findings hold no rows while the BSS API is not configured.
    """
    cycle = context.partition_key
    with warehouse.connect() as con, transaction(con):
        prepare(con)
        # what the lines paid by coupons is the bill file's, kept whatever the API
        run_model(con, "core", "customer_coupon_use", cycle)
    return _api_fed(context, warehouse, bss_api, [
        ("core", "coupon_expiry_finding"), ("core", "coupon_balance_finding"), ("marts", "coupon_status")])


@dg.asset(group_name="marts", partitions_def=bill_cycle_partitions,
          deps=[partner_bill_tieout, customer_bill_tieout, discount_audit, incentive_reconciliation, budget_status,
                coupon_status],
          check_specs=[dg.AssetCheckSpec(FINDINGS_BY_AREA, asset="reconciliation_findings",
                                         description="Reconciliation findings per area (tie-out, discount, "
                                                     "incentive, budget, coupon); any finding is a warning.")],
          kinds={"duckdb", "sql"})
def reconciliation_findings(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every reconciliation finding of every area and cycle, with rule id, severity, amounts and message.

    Grain: one finding (marts.reconciliation_findings, rebuilt whole; bill_cycle null for findings of no
    cycle). Source: the tie-out, incentive and budget marts, marts.discount_audit and the coupon findings.
    """
    with warehouse.connect() as con:
        with transaction(con):
            prepare(con)
            rows = run_model(con, "marts", "reconciliation_findings")
        by_area = findings_by_area(con)
        by_rule = findings_by_rule(con)
    return dg.MaterializeResult(
        metadata={"findings": rows, "by_area": dg.MetadataValue.json(by_area),
                  "by_rule": dg.MetadataValue.json(by_rule)},
        check_results=[dg.AssetCheckResult(
            check_name=FINDINGS_BY_AREA, passed=rows == 0, severity=dg.AssetCheckSeverity.WARN,
            metadata={**by_area, "total": rows},
        )],
    )
