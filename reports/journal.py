"""The month's accounting journal in the pack: ``journal_<cycle>.csv`` (every column of
marts.accounting_journal for the cycle) and what the pack says about the chart of accounts it used."""

from __future__ import annotations

from pathlib import Path

import duckdb

from reports.csv_export import write_table_csv
from reports.exports import ACCOUNTING_JOURNAL, CHART_TABLE

CHART_FILE = "agreements/chart_of_accounts.csv"


def journal_file_name(bill_cycle: str) -> str:
    return f"journal_{bill_cycle}.csv"


def has_journal(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute(
        # information_schema lists views too (the chart is one; duckdb_tables() does not)
        """select count(*) = 2 from information_schema.tables where table_catalog = current_database()
           and (table_schema, table_name) in (('marts', 'accounting_journal'), ('marts', 'chart_of_accounts'))"""
    ).fetchone()[0]


def write_journal_csv(directory: Path, con: duckdb.DuckDBPyConnection, bill_cycle: str) -> Path:
    return write_table_csv(directory, con, ACCOUNTING_JOURNAL, bill_cycle, journal_file_name(bill_cycle))


def chart_note(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> str | None:
    """A note for the pack when the journal's codes are not all the partner's own, else None."""
    defaults = [account for (account,) in con.execute(
        f"select account from {CHART_TABLE} where source = 'default' order by account").fetchall()]
    if not defaults:
        return None
    total = con.execute(f"select count(*) from {CHART_TABLE}").fetchone()[0]
    if len(defaults) == total:
        return (f"No chart of accounts has been delivered ({CHART_FILE}): {journal_file_name(bill_cycle)} uses "
                "the default account codes of docs/journal.md. Deliver the file to post with your own codes.")
    return (f"{CHART_FILE} does not map {len(defaults)} of the journal's {total} accounts "
            f"({', '.join(defaults)}): {journal_file_name(bill_cycle)} uses their default codes (docs/journal.md). "
            "Its quarantined rows are in the data quality section.")
