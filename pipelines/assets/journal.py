"""The accounting journal (docs/journal.md): the partner's chart of accounts
(agreements/chart_of_accounts.csv, landed with the other agreements) and the month's balanced
double-entry lines per customer (marts.accounting_journal)."""


import dagster as dg

from pipelines.assets.landing import landed_agreements
from pipelines.assets.marts import customer_bill_line, customer_monthly_expenditure
from pipelines.assets.reconciliation import incentive_reconciliation
from pipelines.assets.staging import stage_agreement_file, staging_check_specs
from pipelines.lib.chart_of_accounts import CHART_OF_ACCOUNTS_KEY, stage_chart_of_accounts
from pipelines.lib.journal import chart_source, expenditure_margin, journal_imbalances, journal_margin
from pipelines.lib.sql_models import run_model
from pipelines.lib.warehouse import transaction
from pipelines.partitions import bill_cycle_partitions
from pipelines.resources import WarehouseResource

BALANCED = "debits_equal_credits"
MARGIN_TIE = "margin_equals_expenditure"


@dg.asset(group_name="staging", partitions_def=bill_cycle_partitions, deps=[landed_agreements],
          check_specs=staging_check_specs("stg_chart_of_accounts"), kinds={"duckdb", "polars"})
def stg_chart_of_accounts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The partner's ledger code and name per journal account (staging.chart_of_account).

    Grain: one account. Source: the newest delivery of agreements/chart_of_accounts.csv. Without it,
    the default chart of docs/journal.md applies.
    """
    return stage_agreement_file(context, warehouse, CHART_OF_ACCOUNTS_KEY, "stg_chart_of_accounts",
                                stage_chart_of_accounts, when_missing="the journal uses the default chart of accounts",
                                skipped="no chart of accounts file")


@dg.asset(group_name="core", partitions_def=bill_cycle_partitions, deps=[stg_chart_of_accounts],
          kinds={"duckdb", "sql"})
def core_chart_of_accounts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The code and name each journal account posts to: the partner's, else the default (core.chart_of_accounts).

    Grain: one journal account. Source: staging.chart_of_account.
    """
    with warehouse.connect() as con:
        with transaction(con):
            rows = run_model(con, "core", "chart_of_accounts")
        sources = chart_source(con)
    if sources["default"]:
        context.log.warning(f"{sources['default']} of {rows} accounts take the default code: "
                            f"{CHART_OF_ACCOUNTS_KEY} does not map them")
    return dg.MaterializeResult(metadata={"accounts": rows, "default_accounts": sources["default"]})


@dg.asset(group_name="marts", partitions_def=bill_cycle_partitions,
          deps=[customer_monthly_expenditure, customer_bill_line, incentive_reconciliation, core_chart_of_accounts],
          check_specs=[
              dg.AssetCheckSpec(BALANCED, asset="accounting_journal", blocking=True,
                                description="Debits equal credits for the month, for every partner."),
              dg.AssetCheckSpec(MARGIN_TIE, asset="accounting_journal", blocking=True,
                                description="The margin the journal implies equals "
                                            "marts.customer_monthly_expenditure's margin."),
          ],
          kinds={"duckdb", "sql"})
def accounting_journal(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The month's double-entry lines for the partner's ledger, per customer (docs/journal.md).

    Grain: bill_cycle × customer × entry × account (marts.accounting_journal). Source:
    marts.customer_monthly_expenditure, marts.customer_bill_line, marts.incentive_reconciliation,
    core.chart_of_accounts.
    """
    cycle = context.partition_key
    with warehouse.connect() as con:
        with transaction(con):
            rows = run_model(con, "marts", "accounting_journal", cycle)
        imbalances = journal_imbalances(con, cycle)
        implied, mart = journal_margin(con, cycle), expenditure_margin(con, cycle)
        debits = con.execute("select coalesce(sum(debit_amount), 0) from marts.accounting_journal "
                             "where bill_cycle = ?", [cycle]).fetchone()[0]
    return dg.MaterializeResult(
        metadata={"lines": rows, "debits": str(debits), "margin": str(implied)},
        check_results=[
            dg.AssetCheckResult(check_name=BALANCED, passed=not imbalances, severity=dg.AssetCheckSeverity.ERROR,
                                metadata={"imbalances": dg.MetadataValue.json(imbalances)}),
            dg.AssetCheckResult(check_name=MARGIN_TIE, passed=implied == mart, severity=dg.AssetCheckSeverity.ERROR,
                                metadata={"journal_margin": str(implied), "expenditure_margin": str(mart)}),
        ],
    )
