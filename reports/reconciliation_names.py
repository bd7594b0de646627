"""The names the reconciliation part of the pack shows beside customer ids and service codes.

A finding or an API-only row often carries an id or a code and no name; the name is looked up in
the marts that carry one, each read only when the warehouse has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import duckdb

from reports.exports import EXPENDITURE_TABLE
from reports.reconciliation_areas import BUDGET_TABLE, CUSTOMER_TIEOUT_TABLE, INCENTIVE_TABLE, existing_tables


def service_names(con: duckdb.DuckDBPyConnection, present: frozenset[str]) -> dict[str, str]:
    """Service type code -> its newest name in the marts that carry one: the incentive mart
    (the API's policies), then the expenditure mart (the bill lines), which wins."""
    sources: list[tuple[str, list[object]]] = []
    if INCENTIVE_TABLE in present:
        sources.append((f"SELECT service_type_code, max_by(service_type_name, period) FROM {INCENTIVE_TABLE} "
                        "WHERE service_type_code IS NOT NULL AND service_type_name IS NOT NULL GROUP BY 1", []))
    if EXPENDITURE_TABLE in existing_tables(con, [EXPENDITURE_TABLE]):
        sources.append((f"SELECT service_type_code, max_by(service_type_name, bill_cycle) FROM {EXPENDITURE_TABLE} "
                        "WHERE service_type_code IS NOT NULL AND service_type_name IS NOT NULL GROUP BY 1", []))
    return _later_sources_win(con, sources)


def customer_names(con: duckdb.DuckDBPyConnection, bill_cycle: str, present: frozenset[str]) -> dict[str, str]:
    """Customer id -> name for the findings: the bill file's name of the cycle first, then
    the tie-out's (a customer only in the API), then the budget mart's."""
    sources: list[tuple[str, list[object]]] = []
    if BUDGET_TABLE in present:
        sources.append((f"SELECT customer_id, min(customer_name) FROM {BUDGET_TABLE} "
                        "WHERE customer_name IS NOT NULL GROUP BY customer_id", []))
    if CUSTOMER_TIEOUT_TABLE in present:
        sources.append((f"SELECT customer_id, min(customer_name) FROM {CUSTOMER_TIEOUT_TABLE} "
                        "WHERE bill_cycle = ? AND customer_name IS NOT NULL GROUP BY customer_id",
                        [bill_cycle]))
    if EXPENDITURE_TABLE in existing_tables(con, [EXPENDITURE_TABLE]):
        sources.append((f"SELECT customer_id, min(customer_name) FROM {EXPENDITURE_TABLE} "
                        "WHERE bill_cycle = ? AND customer_name IS NOT NULL GROUP BY customer_id",
                        [bill_cycle]))
    return _later_sources_win(con, sources)


def _later_sources_win(con: duckdb.DuckDBPyConnection,
                       sources: Sequence[tuple[str, list[object]]]) -> dict[str, str]:
    """Key -> name from each (query, parameters) in turn; a later source overrides an earlier one."""
    names: dict[str, str] = {}
    for sql, parameters in sources:
        names.update(dict(con.execute(sql, parameters).fetchall()))
    return names


def iter_with_names(rows: Iterable[dict[str, Any]], names: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Each row with ``customer_name`` filled from ``names`` when the row has none."""
    for row in rows:
        if row.get("customer_name") is None:
            row = {**row, "customer_name": names.get(row.get("customer_id"))}
        yield row
