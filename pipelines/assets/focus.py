"""The data files the FOCUS 1.2 models read (docs/focus.md). The four FOCUS models themselves
(sql/core/focus_*.sql, sql/marts/focus_*.sql) are assets of the model factory
(pipelines/assets/models.py) like any other model; this asset writes the tables of sql/seeds they
join, and declares them, so that their lineage is true."""


import dagster as dg

from pipelines.assets.tables import writes
from pipelines.lib.focus import ACCOUNT_CURRENCY_TABLE, SEED_TABLES, load_seeds
from pipelines.lib.partners import named_account
from pipelines.lib.warehouse import transaction
from pipelines.partitions import account_month_partitions, run_partner
from pipelines.resources import WarehouseResource


@dg.asset(group_name="core", partitions_def=account_month_partitions, kinds={"duckdb", "csv"},
          metadata=writes(*SEED_TABLES, ACCOUNT_CURRENCY_TABLE))
def focus_seeds(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The FOCUS mappings from the data files in sql/seeds: HUAWEI CLOUD service types to FOCUS
    service categories (core.focus_service_category) and usage units to FOCUS units
    (core.focus_pricing_unit), each table recreated whole from its file; and the currency partners.toml
    gives the run's account (core.focus_account_currency, no row without that file), which BillingCurrency
    falls back to when the BSS API names none.

    Grain: one service type / one unit / the account (not data of a month: every cycle writes the same rows).
    Source: sql/seeds/focus_service_category.csv, sql/seeds/focus_pricing_unit.csv, partners.toml.
    """
    account = named_account(run_partner(context))
    with warehouse.connect() as con, transaction(con):
        rows = load_seeds(con, account.currency if account else None)
    return dg.MaterializeResult(metadata={table: count for table, count in rows.items()})
