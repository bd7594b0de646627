"""What the core model assets (sql/core, built by pipelines/assets/models.py) do beyond building
their SQL: conformed facts and dimensions."""

from pipelines.assets.models import ModelHooks
from pipelines.lib.chart_of_accounts import CHART_OF_ACCOUNTS_KEY
from pipelines.lib.fingerprint import UpTo
from pipelines.lib.journal import chart_source

BILL_LINE_SKIPPED_NOTE = ("inputs unchanged since the last build (same code, bill files, agreements, API orders "
                          "and commercial discounts): not rebuilt")


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


def bill_line_contents(bill_cycle: str) -> list[tuple[str, dict]]:
    """The API rows a cycle's refunds are priced from. An earlier cycle's bill file or order pull
    arriving later changes the fingerprint of the cycle's rated lines (and of the marts summing
    them), so its refunds are priced again when the cycle runs; a later cycle's never does."""
    return [(_ORDERS_UP_TO, {"bill_cycle": bill_cycle}), (_COMMERCIAL_RATES, {})]


# the hooks of every model built from the cycle's bill lines as rated (refunds priced from their
# original orders): skipped while its inputs are unchanged
BILL_LINE_HOOKS = {"inputs": bill_line_inputs, "contents": bill_line_contents, "skipped_note": BILL_LINE_SKIPPED_NOTE}


def _refund_metadata(context, con, bill_cycle: str, rows: int) -> dict:
    """How the cycle's refund lines found their original orders."""
    counts = dict(con.execute(
        """select original_found_in, count(*) from core.refund_original_order
           where bill_cycle = ? group by all""", [bill_cycle]).fetchall())
    return {"refund_lines": rows,
            **{f"refunds_original_in_{place}": counts.get(place, 0) for place in ("bill_file", "api_order", "unknown")}}


def _refunds_still_built(con, bill_cycle: str, built: dict) -> bool:
    exists = con.execute("""select count(*) from duckdb_tables()
                            where schema_name = 'core' and table_name = 'refund_original_order'""").fetchone()[0]
    return bool(exists) and con.execute("select count(*) from core.refund_original_order where bill_cycle = ?",
                                        [bill_cycle]).fetchone()[0] == built["refund_lines"]


def _chart_metadata(context, con, cycle: str, rows: int) -> dict:
    """The accounts of the journal and how many take their default code (docs/journal.md)."""
    sources = chart_source(con)
    if sources["default"]:
        context.log.warning(f"{sources['default']} of {rows} accounts take the default code: "
                            f"{CHART_OF_ACCOUNTS_KEY} does not map them")
    return {"accounts": rows, "default_accounts": sources["default"]}


def _agreement_metadata(context, con, bill_cycle: str, rows: int) -> dict:
    return {"agreed_keys": rows}


def _agreements_still_built(con, bill_cycle: str, built: dict) -> bool:
    return con.execute("select count(*) from core.line_agreement where bill_cycle = ?",
                       [bill_cycle]).fetchone()[0] == built["agreed_keys"]


MODEL_HOOKS = {
    "core.customer_discount_rule": ModelHooks(metadata=lambda context, con, cycle, rows: {"rules": rows}),
    "core.refund_original_order": ModelHooks(
        metadata=_refund_metadata, still_built=_refunds_still_built, **BILL_LINE_HOOKS),
    "core.line_agreement": ModelHooks(
        metadata=_agreement_metadata, still_built=_agreements_still_built, **BILL_LINE_HOOKS),
    # a view: counting its lines here would rate every line once more; customer_monthly_expenditure
    # counts the lines without an agreement where it aggregates them anyway
    "core.rated_bill_line": ModelHooks(**BILL_LINE_HOOKS),
    "core.chart_of_accounts": ModelHooks(metadata=_chart_metadata),
}
