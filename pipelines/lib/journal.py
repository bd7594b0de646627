"""The accounting journal's invariants (docs/journal.md), read from the warehouse: the journal
balances for each partner in the month, and the margin its revenue and cost accounts imply is the
margin of marts.customer_monthly_expenditure."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from schemas.money import MONEY_SUM_SQL


def journal_imbalances(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> dict[str, str]:
    """Partner id -> 'debits D vs credits C' for every partner of the cycle whose journal does not balance."""
    rows = con.execute(
        """select coalesce(partner_id, ''), sum(debit_amount), sum(credit_amount)
           from marts.accounting_journal where bill_cycle = ?
           group by all having sum(debit_amount) <> sum(credit_amount) order by 1""", [bill_cycle]).fetchall()
    return {partner: f"debits {debits} vs credits {credits}" for partner, debits, credits in rows}


def journal_margin(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> Decimal:
    """Credits minus debits on the accounts of the `margin` section (revenue, refunds to customers,
    cost of sales, refunds from HUAWEI CLOUD)."""
    return con.execute(
        f"""select coalesce(sum(credit_amount - debit_amount), 0)::{MONEY_SUM_SQL}
           from marts.accounting_journal where bill_cycle = ? and section = 'margin'""", [bill_cycle]).fetchone()[0]


def expenditure_margin(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> Decimal:
    return con.execute(
        f"""select coalesce(sum(margin_amount), 0)::{MONEY_SUM_SQL}
           from marts.customer_monthly_expenditure where bill_cycle = ?""", [bill_cycle]).fetchone()[0]


def chart_source(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many accounts take their code from the partner's chart file and how many from the default."""
    rows = con.execute("select source = 'default', count(*) from core.chart_of_accounts group by 1").fetchall()
    counts = {"default": 0, "partner": 0}
    for is_default, count in rows:
        counts["default" if is_default else "partner"] = count
    return counts
