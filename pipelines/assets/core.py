"""What the core model assets (sql/core, built by pipelines/assets/models.py) do beyond building
their SQL: conformed facts and dimensions."""

from pipelines.assets.models import ModelHooks


def bill_line_inputs(bill_cycle: str) -> dict[str, str | None]:
    """The loads a cycle's rated lines are built from: its bill file and the agreements."""
    return {"customerBill": bill_cycle, "agreements": None}


MODEL_HOOKS = {
    "core.customer_discount_rule": ModelHooks(metadata=lambda context, con, cycle, rows: {"rules": rows}),
    # a view: counting its lines here would rate every line once more; customer_monthly_expenditure
    # counts the lines without an agreement where it aggregates them anyway
    "core.rated_bill_line": ModelHooks(inputs=bill_line_inputs),
}
