"""Which rows of which table each CSV and XLSX export of the month-close pack holds, and in what order.

Reports read only the public marts and the audit tables (docs/architecture.md#the-warehouse-contract).
An export names its table, the rows of the cycle it takes (a WHERE clause whose parameters are all the
bill cycle) and the columns that lead its order; ``reports.data`` completes the order with every other
column, so the same warehouse content always comes back in the same order and the files stay
byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

EXPENDITURE_TABLE = "marts.customer_monthly_expenditure"
BILL_LINE_TABLE = "marts.customer_bill_line"
DATA_QUALITY_TABLE = "marts.data_quality"
FINDINGS_TABLE = "audit.findings"
QUARANTINE_TABLE = "audit.quarantine"
RULES_TABLE = "audit.rules"
RESTATEMENT_TABLE = "marts.restatement"
JOURNAL_TABLE = "marts.accounting_journal"
CHART_TABLE = "marts.chart_of_accounts"

# Data-quality rows of a cycle: the cycle's own objects, plus the whole-object rows that belong to
# no month (agreements), because the cycle's customer bills were priced with them.
DATA_QUALITY_WHERE = "bill_cycle = ? OR (bill_cycle IS NULL AND member IS NULL)"
DATA_QUALITY_PARAMETERS = 1

# Findings and quarantined rows of a cycle: those stamped with the cycle, plus every row from an
# object listed in the cycle's data-quality section. The second part matters for a row that was
# quarantined precisely because its bill cycle is missing or wrong: it must show up in the report
# of the file it came from, not vanish from every month.
AUDIT_WHERE = f"""bill_cycle = ?
    OR object_key IN (SELECT object_key FROM {DATA_QUALITY_TABLE} WHERE {DATA_QUALITY_WHERE})"""
AUDIT_PARAMETERS = 1 + DATA_QUALITY_PARAMETERS


@dataclass(frozen=True)
class TableExport:
    """One table's rows for a cycle, in a fixed order, as exported to CSV and XLSX.

    ``leading_order`` lists the columns that make the order meaningful to a reader; every other
    column of the table follows as a tie-breaker, so even rows that agree on the leading columns
    come out in a stable order.
    """

    name: str
    table: str
    where: str
    parameter_count: int
    leading_order: tuple[str, ...]
    # the leading columns already identify a row: no tie-breakers needed (a cheaper sort)
    leading_order_is_unique: bool = False
    # what the rows are read from when it is more than the table (a subquery adding columns to it)
    source: str | None = None

    def parameters(self, bill_cycle: str) -> list[str]:
        return [bill_cycle] * self.parameter_count

    @property
    def relation(self) -> str:
        """What to select the export's rows from: its table, or the subquery that extends it."""
        return self.source or self.table


# Most exports take the rows stamped with the cycle.
CYCLE_WHERE = "bill_cycle = ?"


def cycle_export(name: str, table: str, leading_order: tuple[str, ...],
                 leading_order_is_unique: bool = False) -> TableExport:
    """The export of ``table``'s rows of the cycle (``bill_cycle = ?``)."""
    return TableExport(name, table, CYCLE_WHERE, 1, leading_order, leading_order_is_unique)


CUSTOMER_MONTHLY_EXPENDITURE = cycle_export(
    "customer_monthly_expenditure", EXPENDITURE_TABLE, ("customer_id", "service_type_code"))
CUSTOMER_BILL_LINE = cycle_export(
    "customer_bill_line", BILL_LINE_TABLE,
    ("customer_id", "trade_time_local", "trade_id", "src_member", "src_record"),
    leading_order_is_unique=True,  # (src_member, src_record) is a line's position in the delivery
)
DATA_QUALITY = TableExport("data_quality", DATA_QUALITY_TABLE, DATA_QUALITY_WHERE, DATA_QUALITY_PARAMETERS,
                           ("source", "object_key", "member", "bill_cycle"))
FINDINGS = TableExport("findings", FINDINGS_TABLE, AUDIT_WHERE, AUDIT_PARAMETERS,
                       ("rule_id", "severity", "customer_id", "reference", "object_key", "member", "line_number"))
# Quarantined rows with what to do about each, their rule's action from the warehouse's rules
# catalogue (null for a rule id a later release dropped), beside the reason and before the long raw
# record, where a reader of the sheet or the CSV looks.
QUARANTINE_WITH_ACTIONS = f"""(SELECT q.* EXCLUDE (raw_record), r.action AS what_to_do, q.raw_record
    FROM {QUARANTINE_TABLE} AS q LEFT JOIN {RULES_TABLE} AS r ON r.rule_id = q.rule_id)"""
QUARANTINE = TableExport("quarantine", QUARANTINE_TABLE, AUDIT_WHERE, AUDIT_PARAMETERS,
                         ("source", "object_key", "member", "line_number", "rule_id"),
                         source=QUARANTINE_WITH_ACTIONS)
RESTATEMENT = cycle_export("restatement", RESTATEMENT_TABLE, ("restated_at", "customer_id"))

# journal_<cycle>.csv: each customer's entries together, the debit line of a posting before its credit
ACCOUNTING_JOURNAL = cycle_export("accounting_journal", JOURNAL_TABLE, ("customer_id", "entry", "credit_amount"))

CSV_EXPORTS = (CUSTOMER_MONTHLY_EXPENDITURE, CUSTOMER_BILL_LINE, DATA_QUALITY, FINDINGS, QUARANTINE,
               RESTATEMENT)
