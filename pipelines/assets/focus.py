"""FOCUS 1.2 views (docs/focus.md): the marts marts.focus_partner_cost and marts.focus_customer_billing,
built from the SQL models sql/core/focus_*.sql and sql/marts/focus_*.sql and the data files in sql/seeds."""


import dagster as dg

from pipelines.assets.marts import customer_bill_line
from pipelines.assets.staging import stg_bill_lines
from pipelines.lib.focus import build_views
from pipelines.lib.warehouse import transaction
from pipelines.partitions import bill_cycle_partitions
from pipelines.resources import WarehouseResource


@dg.asset(group_name="marts", partitions_def=bill_cycle_partitions,
          deps=[stg_bill_lines, customer_bill_line, "stg_api_resellers", "stg_api_partner_monthly_bill"],
          kinds={"duckdb", "sql"})
def focus_views(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """FOCUS 1.2 cost and usage views: what HUAWEI CLOUD bills the partner (marts.focus_partner_cost) and
    what the partner bills each customer (marts.focus_customer_billing).

    Grain: one bill line of a closed cycle (views over every cycle). Source: staging.bill_line,
    marts.customer_bill_line, core.focus_charge, core.focus_billing_period, sql/seeds.
    """
    # views: creating them reads no line, so a nightly run with nothing new pays nothing here
    with warehouse.connect() as con, transaction(con):
        build_views(con)
    return dg.MaterializeResult(metadata={"views": ["marts.focus_partner_cost", "marts.focus_customer_billing"]})
