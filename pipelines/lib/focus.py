"""FOCUS 1.2 cost and usage exports (docs/focus.md): the data files the FOCUS models read, and
writing one view's month to a CSV or Parquet file. The models are files of sql/core and sql/marts,
built by the model factory (pipelines/assets/models.py).

The views are marts.focus_partner_cost (what HUAWEI CLOUD bills the partner) and
marts.focus_customer_billing (what the partner bills each customer); one row per bill line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.lib.warehouse import SQL_DIR
from reports.files import atomic_output_path
from schemas.focus import COLUMN_TYPES, SERVICE_SUBCATEGORIES

SEEDS_DIR = SQL_DIR / "seeds"

# view name on the command line -> mart
VIEWS = {"partner": "focus_partner_cost", "customer": "focus_customer_billing"}
MART_TABLES = tuple(f"marts.{mart}" for mart in VIEWS.values())
FORMATS = (".csv", ".parquet")
# the tables the data files of sql/seeds become (written by the asset focus_seeds)
SEED_TABLES = ("core.focus_pricing_unit", "core.focus_service_category")


class FocusExportError(Exception):
    """A request the warehouse cannot answer (unknown month, no bill file, bad path): one line to show."""


def pack_file_name(view: str, bill_cycle: str) -> str:
    """The export's name in a month's pack folder: focus_partner_cost_2026-09.parquet."""
    return f"{VIEWS[view]}_{bill_cycle}.parquet"


def read_service_categories(path: Path | None = None) -> list[dict[str, str]]:
    """The HUAWEI CLOUD service type -> ServiceCategory / ServiceSubcategory data file, checked
    against the pairs FOCUS allows: a wrong pair would make every export non-conformant."""
    path = path or SEEDS_DIR / "focus_service_category.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    wrong = [f"{row['service_type_code']}: {row['service_category']} / {row['service_subcategory']}"
             for row in rows
             if row["service_subcategory"] not in SERVICE_SUBCATEGORIES.get(row["service_category"], ())]
    if wrong:
        raise ValueError(f"{path.name}: not a FOCUS ServiceCategory / ServiceSubcategory pair: {'; '.join(wrong)}")
    codes = [row["service_type_code"] for row in rows]
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        raise ValueError(f"{path.name}: service types mapped more than once: {', '.join(repeated)}")
    return rows


def load_seeds(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """(Re)create SEED_TABLES from their files in sql/seeds, inside the caller's transaction;
    returns each table's rows."""
    read_service_categories()
    rows = {}
    for table in SEED_TABLES:
        path = SEEDS_DIR / f"{table.split('.')[1]}.csv"
        con.execute(f"create or replace table {table} as "
                    "select * from read_csv(?, header = true, all_varchar = true)", [str(path)])
        rows[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
    return rows


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
