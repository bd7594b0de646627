"""The figures `billrecon run` and `billrecon demo` print after closing months: per cycle, the bill
lines loaded and quarantined, the customers billed, what the partner owes HUAWEI CLOUD (amount due
with refunds and adjustments), what it charges its customers, and the margin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from reports.month_close_data import HeadlineTotals, headline_totals

# The bill file's loads of a cycle: rows loaded and quarantined, over every delivery and member.
_BILL_FILE_ROWS_SQL = """
SELECT coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0)
FROM audit.loads
WHERE source = 'customerBill' AND bill_cycle = ?
"""

_HEADER = (f"{'cycle':<9}{'lines':>9}{'quarantined':>13}{'customers':>11}{'amount due':>16}"
           f"{'customer charge':>18}{'margin':>14}")


@dataclass(frozen=True)
class CycleFigures:
    bill_cycle: str
    lines_loaded: int
    lines_quarantined: int
    totals: HeadlineTotals

    def line(self) -> str:
        """The cycle's row under ``_HEADER``."""
        totals = self.totals
        return (f"{self.bill_cycle:<9}{self.lines_loaded:>9,}{self.lines_quarantined:>13,}"
                f"{totals.customer_count:>11,}{totals.net_amount_due:>16,.2f}"
                f"{totals.customer_charge_amount:>18,.2f}{totals.margin_amount:>14,.2f}")


def cycle_figures(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> CycleFigures:
    """The figures of ``bill_cycle`` (zeros for a cycle without a bill file)."""
    loaded, quarantined = con.execute(_BILL_FILE_ROWS_SQL, [bill_cycle]).fetchone()
    return CycleFigures(bill_cycle, loaded, quarantined, headline_totals(con, bill_cycle))


def figures_table(con: duckdb.DuckDBPyConnection, bill_cycles: Sequence[str]) -> list[str]:
    """The header and one row per cycle, as the command line prints them."""
    return [_HEADER, *(cycle_figures(con, cycle).line() for cycle in bill_cycles)]
