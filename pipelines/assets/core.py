"""What the core model assets (sql/core, built by pipelines/assets/models.py) do beyond building
their SQL: conformed facts and dimensions."""

from pipelines.assets.models import ModelHooks
from pipelines.lib.chart_of_accounts import CHART_OF_ACCOUNTS_KEY
from pipelines.lib.journal import chart_source


def bill_line_inputs(bill_cycle: str) -> dict[str, str | None]:
    """The loads a cycle's rated lines are built from: its bill file and the agreements."""
    return {"customerBill": bill_cycle, "agreements": None}


def _chart_metadata(context, con, cycle: str, rows: int) -> dict:
    """The accounts of the journal and how many take their default code (docs/journal.md)."""
    sources = chart_source(con)
    if sources["default"]:
        context.log.warning(f"{sources['default']} of {rows} accounts take the default code: "
                            f"{CHART_OF_ACCOUNTS_KEY} does not map them")
    return {"accounts": rows, "default_accounts": sources["default"]}


MODEL_HOOKS = {
    "core.customer_discount_rule": ModelHooks(metadata=lambda context, con, cycle, rows: {"rules": rows}),
    # a view: counting its lines here would rate every line once more; customer_monthly_expenditure
    # counts the lines without an agreement where it aggregates them anyway
    "core.rated_bill_line": ModelHooks(inputs=bill_line_inputs),
    "core.chart_of_accounts": ModelHooks(metadata=_chart_metadata),
}
