"""Core assets: conformed facts and dimensions built by the SQL models under sql/core."""


import dagster as dg

from pipelines.assets.staging import stg_bill_lines, stg_customer_discounts
from pipelines.lib.fingerprint import last_build, loads_fingerprint, record_build
from pipelines.lib.sql_models import run_model
from pipelines.lib.warehouse import transaction
from pipelines.partitions import bill_cycle_partitions
from pipelines.resources import WarehouseResource


SKIPPED_NOTE = "inputs unchanged since the last build (same code, bill file and agreements): not rebuilt"


def bill_line_inputs(bill_cycle: str) -> dict[str, str | None]:
    """The loads a cycle's rated lines are built from: its bill file and the agreements."""
    return {"customerBill": bill_cycle, "agreements": None}


@dg.asset(group_name="core", partitions_def=bill_cycle_partitions, deps=[stg_customer_discounts],
          kinds={"duckdb", "sql"})
def core_customer_discount_rule(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The partner's agreed customer discounts with their specificity (core.customer_discount_rule).

    Grain: one agreement rule. Source: staging.customer_discount.
    """
    with warehouse.connect() as con, transaction(con):
        rows = run_model(con, "core", "customer_discount_rule")
    return dg.MaterializeResult(metadata={"rules": rows})


@dg.asset(group_name="core", partitions_def=bill_cycle_partitions,
          deps=[stg_bill_lines, core_customer_discount_rule], kinds={"duckdb", "sql"})
def core_rated_bill_lines(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every bill line of the cycle with the customer's agreed discount and charge (core.rated_bill_line).

    Grain: one bill line. Source: staging.bill_line joined to core.customer_discount_rule.
    """
    cycle = context.partition_key
    with warehouse.connect() as con:
        fingerprint = loads_fingerprint(con, bill_line_inputs(cycle))
        built = last_build(con, "core.rated_bill_line", cycle, fingerprint)
        if built is not None:
            return dg.MaterializeResult(metadata={**built, "skipped": SKIPPED_NOTE})
        with transaction(con):
            run_model(con, "core", "rated_bill_line", cycle)
            # counted where the lines are aggregated anyway (customer_monthly_expenditure reports lines
            # without an agreement): evaluating the view here too would rate every line once more
            metadata = {"view": "core.rated_bill_line"}
            record_build(con, "core.rated_bill_line", cycle, fingerprint, metadata)
    return dg.MaterializeResult(metadata=metadata)
