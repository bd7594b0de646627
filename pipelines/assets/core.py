"""Core assets: conformed facts and dimensions built by the SQL models under sql/core."""

import hashlib

import dagster as dg

from pipelines.assets.api import api_staging
from pipelines.assets.staging import stg_bill_lines, stg_customer_discounts
from pipelines.lib.fingerprint import UpTo, last_build, loads_fingerprint, record_build, rows_fingerprint
from pipelines.lib.sql_models import run_model
from pipelines.lib.warehouse import transaction
from pipelines.partitions import bill_cycle_partitions
from pipelines.resources import WarehouseResource


SKIPPED_NOTE = ("inputs unchanged since the last build (same code, bill files, agreements, API orders and "
                "commercial discounts): not rebuilt")


def bill_line_inputs(bill_cycle: str) -> dict[str, str | UpTo | None]:
    """The loads a cycle's rated lines are built from: the agreements, its bill file and, for its
    refunds, the bill files of every earlier cycle (where their original orders are found)."""
    return {"customerBill": UpTo(bill_cycle), "agreements": None}


# What else prices a refund: the API orders pulled for this cycle or an earlier one, and the
# commercial discounts (the gross-up of a refund of an unknown order). Their content, not their
# loads: every pull is a new snapshot, even when nothing in it changed.
_ORDERS_UP_TO = """select customer_id, order_id, order_type, payment_time, official_amount, amount_after_discount
                   from staging.api_order where bill_cycle <= $bill_cycle order by all"""
_COMMERCIAL_RATES = """select quoting_item_type, service_type_code, discount_ratio, effective_time, expire_time
                       from staging.api_business_discount order by all"""


def bill_line_fingerprint(con, bill_cycle: str) -> str:
    """What a cycle's rated lines (and the marts summing them) depend on. An earlier cycle's bill
    file or order pull arriving later changes it, so the cycle's refunds are priced again when the
    cycle runs; a later cycle's never does."""
    loads = loads_fingerprint(con, bill_line_inputs(bill_cycle))
    api_rows = rows_fingerprint(con, [(_ORDERS_UP_TO, {"bill_cycle": bill_cycle}), (_COMMERCIAL_RATES, {})])
    return hashlib.sha256(f"{loads} {api_rows}".encode()).hexdigest()


def _refund_originals(con, bill_cycle: str) -> dict[str, int]:
    """How the cycle's refund lines found their original orders (build metadata)."""
    counts = dict(con.execute(
        """select original_found_in, count(*) from core.refund_original_order
           where bill_cycle = ? group by all""", [bill_cycle]).fetchall())
    return {f"refunds_original_in_{place}": counts.get(place, 0) for place in ("bill_file", "api_order", "unknown")}


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
          deps=[stg_bill_lines, core_customer_discount_rule, api_staging("orders"), api_staging("business_discounts")],
          kinds={"duckdb", "sql"})
def core_rated_bill_lines(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every bill line of the cycle with the customer's agreed discount and charge (core.rated_bill_line),
    refunds priced from their original orders (core.refund_original_order).

    Grain: one bill line. Source: staging.bill_line joined to core.customer_discount_rule; for refund
    lines, the original order in the bill files of this or an earlier cycle or in the API's orders.
    """
    cycle = context.partition_key
    with warehouse.connect() as con:
        fingerprint = bill_line_fingerprint(con, cycle)
        built = last_build(con, "core.rated_bill_line", cycle, fingerprint)
        if built is not None:
            return dg.MaterializeResult(metadata={**built, "skipped": SKIPPED_NOTE})
        with transaction(con):
            refunds = run_model(con, "core", "refund_original_order", cycle)
            run_model(con, "core", "rated_bill_line", cycle)
            # counted where the lines are aggregated anyway (customer_monthly_expenditure reports lines
            # without an agreement): evaluating the view here too would rate every line once more
            metadata = {"view": "core.rated_bill_line", "refund_lines": refunds,
                        **_refund_originals(con, cycle)}
            record_build(con, "core.rated_bill_line", cycle, fingerprint, metadata)
    return dg.MaterializeResult(metadata=metadata)
