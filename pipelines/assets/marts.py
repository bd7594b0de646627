"""What the mart assets (sql/marts, built by pipelines/assets/models.py) do beyond building their
SQL: the public tables analysts query and reports read. The reconciliation marts are in
pipelines/assets/reconciliation.py."""

import dagster as dg

from pipelines.assets.core import BILL_LINE_HOOKS
from pipelines.assets.models import ModelCheck, ModelHooks
from pipelines.lib.journal import expenditure_margin, journal_imbalances, journal_margin

TOTALS_TIE = "totals_equal_staged_lines"
BALANCED = "debits_equal_credits"
MARGIN_TIE = "margin_equals_expenditure"

# mart column -> (bill type, staging expression) it must equal when summed over the cycle
_TIE_OUT = {
    "official_amount": ("Expenditure", "official_amount"),
    "discount_amount": ("Expenditure", "discount_amount"),
    "amount_due": ("Expenditure", "amount_due"),
    "coupon_paid_amount": ("Expenditure", "coalesce(cash_coupon_amount, 0) + coalesce(voucher_amount, 0) "
                                          "+ coalesce(stored_card_amount, 0)"),
    "refund_amount": ("Refund", "amount_due"),
    "adjustment_amount": ("Adjustment", "amount_due"),
}


def _expenditure_metadata(context: dg.AssetExecutionContext, con, cycle: str, rows: int) -> dict:
    totals = con.execute(
        """select coalesce(sum(amount_due), 0), coalesce(sum(customer_charge_amount), 0),
                  coalesce(sum(margin_amount), 0), count(distinct customer_id),
                  coalesce(sum(unmatched_agreement_line_count), 0)
           from marts.customer_monthly_expenditure where bill_cycle = ?""", [cycle]).fetchone()
    if totals[4]:
        context.log.warning(f"{totals[4]} line(s) match no customer discount rule and are billed at list price")
    return {"rows": rows, "customers": totals[3], "amount_due": str(totals[0]),
            "customer_charge": str(totals[1]), "margin": str(totals[2]),
            "lines_without_agreement": int(totals[4])}


def _mart_rows(con, cycle: str) -> int | None:
    exists = con.execute("""select count(*) from duckdb_tables() where schema_name = 'marts'
                            and table_name = 'customer_monthly_expenditure'""").fetchone()[0]
    if not exists:
        return None
    return con.execute("select count(*) from marts.customer_monthly_expenditure where bill_cycle = ?",
                       [cycle]).fetchone()[0]


def _tie_out_differences(con, cycle: str) -> dict[str, str]:
    """Mart column -> how its cycle total differs from the staged lines (empty when all tie).
    One pass over each table: at ten million lines, a query per column cost seconds."""
    mart_sums = ", ".join(f"coalesce(sum({column}), 0)" for column in _TIE_OUT)
    staged_sums = ", ".join(f"coalesce(sum({expression}) filter (where bill_type = '{bill_type}'), 0)"
                            for bill_type, expression in _TIE_OUT.values())
    mart = con.execute(f"select {mart_sums} from marts.customer_monthly_expenditure where bill_cycle = ?",
                       [cycle]).fetchone()
    staged = con.execute(f"select {staged_sums} from staging.bill_line where bill_cycle = ?", [cycle]).fetchone()
    return {column: f"mart {mart_total} vs staged {staged_total}"
            for column, mart_total, staged_total in zip(_TIE_OUT, mart, staged) if mart_total != staged_total}


def _totals_tie(con, cycle: str, metadata: dict) -> tuple[bool, dict]:
    differences = _tie_out_differences(con, cycle)
    return not differences, {"differences": dg.MetadataValue.json(differences)}


def _data_quality_metadata(context, con, cycle: str, rows: int) -> dict:
    bad = con.execute("select count(*) from marts.data_quality where status <> 'ok'").fetchone()[0]
    return {"rows": rows, "not_ok": bad}


def _restatement_metadata(context, con, cycle: str, rows: int) -> dict:
    delta = con.execute("select coalesce(sum(amount_due_delta), 0) from marts.restatement where bill_cycle = ?",
                        [cycle]).fetchone()[0]
    return {"rows": rows, "amount_due_delta_this_cycle": str(delta)}


def _journal_metadata(context, con, cycle: str, rows: int) -> dict:
    debits = con.execute("select coalesce(sum(debit_amount), 0) from marts.accounting_journal "
                         "where bill_cycle = ?", [cycle]).fetchone()[0]
    return {"lines": rows, "debits": str(debits), "margin": str(journal_margin(con, cycle))}


def _journal_balanced(con, cycle: str, metadata: dict) -> tuple[bool, dict]:
    imbalances = journal_imbalances(con, cycle)
    return not imbalances, {"imbalances": dg.MetadataValue.json(imbalances)}


def _journal_margin_ties(con, cycle: str, metadata: dict) -> tuple[bool, dict]:
    implied, mart = journal_margin(con, cycle), expenditure_margin(con, cycle)
    return implied == mart, {"journal_margin": str(implied), "expenditure_margin": str(mart)}


MODEL_HOOKS = {
    "marts.customer_monthly_expenditure": ModelHooks(
        **BILL_LINE_HOOKS,
        # the last build from these very inputs passed the tie-out; skip it while its rows are still there
        still_built=lambda con, cycle, built: built["rows"] == _mart_rows(con, cycle),
        metadata=_expenditure_metadata,
        checks=(ModelCheck(TOTALS_TIE, "Mart totals equal the staged bill lines to the 8th decimal.",
                           dg.AssetCheckSeverity.ERROR, _totals_tie, blocking=True),),
    ),
    "marts.data_quality": ModelHooks(metadata=_data_quality_metadata),
    "marts.restatement": ModelHooks(metadata=_restatement_metadata),
    # docs/journal.md: the ledger takes the journal only when both hold
    "marts.accounting_journal": ModelHooks(
        metadata=_journal_metadata,
        checks=(ModelCheck(BALANCED, "Debits equal credits for the month, for every partner.",
                           dg.AssetCheckSeverity.ERROR, _journal_balanced, blocking=True),
                ModelCheck(MARGIN_TIE, "The margin the journal implies equals "
                                       "marts.customer_monthly_expenditure's margin.",
                           dg.AssetCheckSeverity.ERROR, _journal_margin_ties, blocking=True)),
    ),
}
