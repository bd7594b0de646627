"""Writing one FOCUS 1.2 view's month to a CSV or Parquet file (docs/focus.md): `billrecon export focus`
and the month-close pack. The views are marts.focus_partner_cost (what HUAWEI CLOUD bills the partner)
and marts.focus_customer_billing (what the partner bills each customer); one row per bill line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from reports.files import atomic_output_path
from schemas.focus import COLUMN_TYPES, MART_TABLES, VIEWS

__all__ = ["MART_TABLES", "VIEWS", "Export", "FocusExportError", "export", "is_closed", "pack_file_name"]

FORMATS = (".csv", ".parquet")


class FocusExportError(Exception):
    """A request the warehouse cannot answer (unknown month, no bill file, bad path): one line to show."""


def pack_file_name(view: str, bill_cycle: str) -> str:
    """The export's name in a month's pack folder: focus_partner_cost_2026-09.parquet."""
    return f"{VIEWS[view]}_{bill_cycle}.parquet"


@dataclass(frozen=True)
class Export:
    path: Path
    rows: int


def export(con: duckdb.DuckDBPyConnection, bill_cycle: str, view: str, out: Path,
           partner_id: str | None = None) -> Export:
    """Write one closed month of one view to `out` (.csv or .parquet). The file appears whole or not
    at all: it is written beside its target and renamed into place."""
    if view not in VIEWS:
        raise FocusExportError(f"unknown view '{view}': use partner (what HUAWEI CLOUD bills the partner) or "
                               "customer (what the partner bills each customer)")
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise FocusExportError(f"{out}: the file name must end in .csv or .parquet (that chooses the format)")
    _check_month(con, bill_cycle)
    mart = f"marts.{VIEWS[view]}"
    account = "BillingAccountId" if view == "partner" else "x_PartnerId"
    if partner_id is not None:
        known = [row[0] for row in con.execute(
            f'select distinct "{account}" from {mart} where "x_BillCycle" = ? order by 1', [bill_cycle]).fetchall()]
        if partner_id not in known:
            raise FocusExportError(f"partner {partner_id} has no lines in {bill_cycle}; the month's partner: "
                                   f"{', '.join(str(k) for k in known) or 'none'}")
    query = _select(con, mart, suffix)
    where = '"x_BillCycle" = $cycle' + (f' and "{account}" = $partner' if partner_id is not None else "")
    params = {"cycle": bill_cycle, **({"partner": partner_id} if partner_id is not None else {})}
    if not out.parent.is_dir():
        raise FocusExportError(f"cannot write {out}: folder {out.parent} does not exist")
    options = "format parquet, compression zstd" if suffix == ".parquet" else "format csv, header true"
    try:
        # a temporary sibling renamed into place; one a killed run left is removed by the next run
        with atomic_output_path(out) as partial:
            # in the bill file's order: the same month gives the same bytes
            rows = con.execute(f"copy ({query} where {where} order by \"x_SourceMember\", \"x_SourceRecord\") "
                               f"to '{_quoted(partial)}' ({options})", params).fetchone()[0]
    except (duckdb.IOException, OSError) as exc:
        raise FocusExportError(f"cannot write {out}: {_first_line(exc)}") from None
    return Export(out, rows)


def _check_month(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> None:
    present = {row[0] for row in con.execute(
        "select table_schema || '.' || table_name from information_schema.tables where table_schema = 'marts' "
        "and table_name in ('focus_partner_cost', 'focus_customer_billing')").fetchall()}
    if len(present) < len(VIEWS):
        raise FocusExportError("this warehouse has no FOCUS views (it was built by an older billrecon): run "
                               f"`billrecon run --month {bill_cycle}` with this version first")
    if is_closed(con, bill_cycle):
        return
    known = con.execute("select count(*) from audit.loads where bill_cycle = ?", [bill_cycle]).fetchone()[0]
    if known:
        raise FocusExportError(f"{bill_cycle} has no partner bill file yet (the open month, or a late or rejected "
                               "file): it can be exported once the file is loaded")
    months = [row[0] for row in con.execute("select bill_cycle from core.bill_file_cycle order by 1").fetchall()]
    raise FocusExportError(f"{bill_cycle} is not in this warehouse; closed months: {', '.join(months) or 'none'}")


def is_closed(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> bool:
    """Whether the cycle's bill file has been delivered and read: only such a month has FOCUS rows."""
    return con.execute("select count(*) from core.bill_file_cycle where bill_cycle = ?", [bill_cycle]).fetchone()[0] > 0


def _select(con: duckdb.DuckDBPyConnection, mart: str, suffix: str) -> str:
    """The view's columns; in CSV, FOCUS Date/Time values as ISO 8601 UTC (2026-08-31T16:00:00Z)."""
    columns = [row[0] for row in con.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ? "
        "order by ordinal_position", [mart.split(".")[1]]).fetchall()]
    rendered = []
    for column in columns:
        if suffix == ".csv" and COLUMN_TYPES.get(column) == "Date/Time":
            rendered.append(f"strftime(timezone('UTC', \"{column}\"), '%Y-%m-%dT%H:%M:%SZ') as \"{column}\"")
        else:
            rendered.append(f'"{column}"')
    return f"select {', '.join(rendered)} from {mart}"


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
