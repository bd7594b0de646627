"""Reading what the daily flash report of the open month shows.

Month to date is the newest daily usage export of the month (list price, indicative: the bill
file closes the month), as ``marts.daily_spend`` sums it per customer, service and day. The export
of day N holds usage up to day N − 1, so it covers ``min(N − 1, days in month)`` days (an export
dated in the next month covers the whole month).

The comparison is against the same days of the previous month, per customer: from the previous
cycle's bill file (Expenditure lines' list price, GMT+8 trade dates in the window, the mart's
``bill_file`` rows) when it has been loaded, otherwise from the previous month's newest usage export, with
the same window. Budgets come from ``marts.budget_status``.

Every query aggregates in DuckDB (one GROUP BY per source) and binds its values as parameters; a
month of ten million lines is never brought into Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import duckdb

from reports.data import fetch_records
from reports.exports import EXPENDITURE_TABLE
from reports.formatting import money_sum
from reports.reconciliation_areas import BUDGET, BUDGET_TABLE, existing_tables, unavailable_reason
from reports.reconciliation_reader import ReconciliationReader
from schemas.bill_cycle import BillCycle

DAILY_SPEND_TABLE = "marts.daily_spend"
USAGE_EXPORT = "source = 'usage_export'"
BILL_FILE = "source = 'bill_file'"

MOVER_LIMIT = 10
TOP_CUSTOMER_LIMIT = 15
BUDGET_LIMIT = 30

ZERO = Decimal(0)


class NoUsageExport(ValueError):
    """The cycle has no staged usage export: there is nothing to flash."""


@dataclass(frozen=True)
class Comparison:
    """The previous month's window the month to date is compared with."""

    bill_cycle: str
    first_day: date
    last_day: date | None
    """None when the current export covers no day yet (nothing to compare)."""
    source: Literal["bill_file", "usage_export", "none"]
    description: str
    """Where the previous figures come from, for the reader."""
    note: str | None = None
    """A caveat (a previous usage export that covers fewer days than the window)."""

    @property
    def available(self) -> bool:
        return self.source != "none" and self.last_day is not None


@dataclass(frozen=True)
class FlashData:
    bill_cycle: str
    export_date: date
    days_in_month: int
    days_covered: int
    comparison: Comparison
    customers: list[dict[str, Any]]
    """Every customer with spend now, in the comparison window or a budget, by customer id."""
    services: list[dict[str, Any]]
    budget_reason: str | None
    budget_summary: dict[str, Any]
    budgets: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def first_day(self) -> date:
        return BillCycle.parse(self.bill_cycle).first_day

    @property
    def last_covered_day(self) -> date | None:
        return self.first_day + timedelta(days=self.days_covered - 1) if self.days_covered else None

    @property
    def mtd_official_amount(self) -> Decimal:
        return money_sum(row["mtd_official_amount"] for row in self.customers)

    @property
    def mtd_amount_due(self) -> Decimal:
        return money_sum(row["mtd_amount_due"] for row in self.customers)

    @property
    def previous_official_amount(self) -> Decimal:
        return money_sum(row["previous_official_amount"] for row in self.customers)

    @property
    def change_amount(self) -> Decimal:
        return self.mtd_official_amount - self.previous_official_amount

    @property
    def change_ratio(self) -> Decimal | None:
        return _ratio(self.change_amount, self.previous_official_amount)

    @property
    def forecast_amount(self) -> Decimal | None:
        """Month to date ÷ days covered × days in the month (the budget mart's rule)."""
        if not self.days_covered:
            return None
        return self.mtd_official_amount / self.days_covered * self.days_in_month

    @property
    def spending_customer_count(self) -> int:
        return sum(1 for row in self.customers if row["mtd_line_count"])

    @property
    def usage_line_count(self) -> int:
        return sum(row["mtd_line_count"] for row in self.customers)

    @property
    def increases(self) -> list[dict[str, Any]]:
        if not self.comparison.available:
            return []
        rising = [row for row in self.customers if row["change_amount"] > 0]
        return sorted(rising, key=lambda row: (-row["change_amount"], row["customer_id"]))[:MOVER_LIMIT]

    @property
    def decreases(self) -> list[dict[str, Any]]:
        if not self.comparison.available:
            return []
        falling = [row for row in self.customers if row["change_amount"] < 0]
        return sorted(falling, key=lambda row: (row["change_amount"], row["customer_id"]))[:MOVER_LIMIT]

    @property
    def top_customers(self) -> list[dict[str, Any]]:
        spending = [row for row in self.customers if row["mtd_line_count"]]
        ranked = sorted(spending, key=lambda row: (-row["mtd_official_amount"], row["customer_id"]))
        return ranked[:TOP_CUSTOMER_LIMIT]


def days_covered(cycle: BillCycle, export_date: date) -> int:
    """Days of the month an export holds: up to the day before its date, at most the whole month."""
    return max(0, min((export_date - cycle.first_day).days, cycle.days))


def _ratio(change: Decimal, base: Decimal) -> Decimal | None:
    return change / base if base else None


def newest_export_date(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> date | None:
    """The newest usage export staged for the cycle, or None (no table, no export)."""
    if DAILY_SPEND_TABLE not in existing_tables(con, [DAILY_SPEND_TABLE]):
        return None
    return con.execute(f"SELECT max(export_date) FROM {DAILY_SPEND_TABLE} WHERE {USAGE_EXPORT} AND bill_cycle = ?",
                       [bill_cycle]).fetchone()[0]


def load_flash_data(
    con: duckdb.DuckDBPyConnection, bill_cycle: str, api_configured: bool | None = None
) -> FlashData:
    """Read the flash of ``bill_cycle``'s newest usage export; ``NoUsageExport`` when there is none."""
    export_date = newest_export_date(con, bill_cycle)
    if export_date is None:
        raise NoUsageExport(f"no usage export is staged for {bill_cycle}: there is no month to date to report")
    cycle = BillCycle.parse(bill_cycle)
    covered = days_covered(cycle, export_date)
    present = existing_tables(con, [BUDGET_TABLE, EXPENDITURE_TABLE])

    now = {row["customer_id"]: row for row in fetch_records(con, f"""
        SELECT customer_id, sum(official_amount) AS official_amount, sum(amount_due) AS amount_due,
               sum(line_count) AS line_count
        FROM {DAILY_SPEND_TABLE} WHERE {USAGE_EXPORT} AND bill_cycle = ? AND export_date = ?
        GROUP BY customer_id""", [bill_cycle, export_date])}
    comparison = _comparison(con, cycle, covered, present)
    previous = _previous_spend(con, comparison)

    budget_reason = unavailable_reason(BUDGET, present, api_configured)
    budget_summary: dict[str, Any] = {}
    budgets: list[dict[str, Any]] = []
    budget_by_customer: dict[str, dict[str, Any]] = {}
    if budget_reason is None:
        reader = ReconciliationReader(con, bill_cycle, present)
        budget_summary = reader.budget_summary()
        budget_by_customer = {row["customer_id"]: row for row in reader.iter_budgets()}
        budgets = reader.budgets(limit=BUDGET_LIMIT)
        if not budget_summary["customer_count"]:
            budget_reason = f"no data: no budget status for {bill_cycle} in the warehouse"

    names = _latest_names(con, present)
    names.update({cid: row["customer_name"] for cid, row in budget_by_customer.items() if row["customer_name"]})

    customers = []
    for customer_id in sorted(set(now) | set(previous) | set(budget_by_customer), key=lambda c: (c is None, c or "")):
        current = now.get(customer_id, {})
        mtd = current.get("official_amount") or ZERO
        before = previous.get(customer_id, ZERO)
        budget = budget_by_customer.get(customer_id, {})
        customers.append({
            "customer_id": customer_id,
            "customer_name": names.get(customer_id),
            "mtd_official_amount": mtd,
            "mtd_amount_due": current.get("amount_due") or ZERO,
            "mtd_line_count": current.get("line_count") or 0,
            "previous_official_amount": before,
            "change_amount": mtd - before,
            "change_ratio": _ratio(mtd - before, before),
            "budget_amount": budget.get("budget_amount"),
            "utilisation_ratio": budget.get("utilisation_ratio"),
            "forecast_utilisation_ratio": budget.get("forecast_utilisation_ratio"),
            "threshold_crossed_ratio": budget.get("threshold_crossed_ratio"),
            "forecast_amount": budget.get("forecast_amount"),
        })

    notes = []
    if comparison.note:
        notes.append(comparison.note)
    if budget_summary.get("as_of_date") and budget_summary["as_of_date"] != export_date:
        notes.append(f"The budget figures are as of {budget_summary['as_of_date']}, not {export_date}: the "
                     "budget mart was built from another export of the month.")
    return FlashData(
        bill_cycle=bill_cycle,
        export_date=export_date,
        days_in_month=cycle.days,
        days_covered=covered,
        comparison=comparison,
        customers=customers,
        services=_services(con, bill_cycle, export_date, present),
        budget_reason=budget_reason,
        budget_summary=budget_summary,
        budgets=budgets,
        notes=notes,
    )


def _comparison(con: duckdb.DuckDBPyConnection, cycle: BillCycle, covered: int,
                present: frozenset[str]) -> Comparison:
    """The previous month's window (same days) and where its figures come from."""
    previous_month = cycle.previous()
    previous = str(previous_month)  # as the warehouse and the notes write it
    first = previous_month.first_day
    window_days = min(covered, previous_month.days)
    if window_days == 0:
        return Comparison(previous, first, None, "none",
                          "the usage export covers no day of the month yet: nothing to compare")
    last = first + timedelta(days=window_days - 1)
    if con.execute(f"SELECT EXISTS (SELECT 1 FROM {DAILY_SPEND_TABLE} WHERE {BILL_FILE} AND bill_cycle = ?)",
                   [previous]).fetchone()[0]:
        return Comparison(previous, first, last, "bill_file",
                          f"the bill file of {previous} (list price of expenditure lines)")
    export = newest_export_date(con, previous)
    if export is None:
        return Comparison(previous, first, last, "none",
                          f"no data for {previous}: neither its bill file nor a usage export is in the warehouse")
    note = None
    export_covers = days_covered(previous_month, export)
    if export_covers < window_days:
        note = (f"The newest usage export of {previous} ({export}) holds usage up to day {export_covers} only: "
                f"the comparison with days 1–{window_days} of {previous} is incomplete.")
    return Comparison(previous, first, last, "usage_export",
                      f"the usage export of {export} for {previous} (list price; its bill file is not loaded)", note)


def _previous_spend(con: duckdb.DuckDBPyConnection, comparison: Comparison) -> dict[str, Decimal]:
    """Customer id -> list price over the comparison window."""
    if not comparison.available:
        return {}
    source = BILL_FILE if comparison.source == "bill_file" else USAGE_EXPORT
    rows = con.execute(f"""
        SELECT customer_id, sum(official_amount) FROM {DAILY_SPEND_TABLE}
        WHERE {source} AND bill_cycle = ? AND trade_date_local BETWEEN ? AND ?
        GROUP BY customer_id""",
        [comparison.bill_cycle, comparison.first_day, comparison.last_day]).fetchall()
    return {customer_id: amount for customer_id, amount in rows}


def _latest_names(con: duckdb.DuckDBPyConnection, present: frozenset[str]) -> dict[str, str]:
    """Each customer's name in the newest cycle that has one (usage exports carry no names)."""
    if EXPENDITURE_TABLE not in present:
        return {}
    return dict(con.execute(f"""
        SELECT customer_id, customer_name FROM {EXPENDITURE_TABLE} WHERE customer_name IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY bill_cycle DESC, customer_name) = 1
        """).fetchall())


def _services(con: duckdb.DuckDBPyConnection, bill_cycle: str, export_date: date,
              present: frozenset[str]) -> list[dict[str, Any]]:
    """Month to date per service, largest first, with the newest known service name."""
    rows = fetch_records(con, f"""
        SELECT service_type_code, sum(official_amount) AS official_amount, count(DISTINCT customer_id) AS customer_count
        FROM {DAILY_SPEND_TABLE} WHERE {USAGE_EXPORT} AND bill_cycle = ? AND export_date = ?
        GROUP BY service_type_code ORDER BY official_amount DESC, service_type_code""", [bill_cycle, export_date])
    names: dict[str, str] = {}
    if EXPENDITURE_TABLE in present:
        names = dict(con.execute(f"""
            SELECT service_type_code, service_type_name FROM {EXPENDITURE_TABLE} WHERE service_type_name IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY service_type_code ORDER BY bill_cycle DESC, service_type_name) = 1
            """).fetchall())
    return [{**row, "service_type_name": names.get(row["service_type_code"])} for row in rows]

