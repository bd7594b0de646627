"""The data files the FOCUS 1.2 models read (docs/focus.md): sql/seeds becomes core tables before the
models of sql/core and sql/marts (built by the model factory, pipelines/assets/models.py) join them.
Writing a view's month to a file is reports/focus_export.py."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from pipelines.lib.warehouse import SQL_DIR
from schemas.focus import SERVICE_SUBCATEGORIES

SEEDS_DIR = SQL_DIR / "seeds"
# the tables the data files of sql/seeds become (written by the asset focus_seeds)
SEED_TABLES = ("core.focus_pricing_unit", "core.focus_service_category")
# The currency partners.toml gives the working file's account: one row, or none for the account of
# the BILLRECON_* settings (which names no currency). The FOCUS exports' BillingCurrency falls back to it.
ACCOUNT_CURRENCY_TABLE = "core.focus_account_currency"


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


def load_seeds(con: duckdb.DuckDBPyConnection, account_currency: str | None = None) -> dict[str, int]:
    """(Re)create SEED_TABLES from their files in sql/seeds, and ACCOUNT_CURRENCY_TABLE with
    `account_currency` (none: no row), inside the caller's transaction; returns each table's rows."""
    read_service_categories()
    rows = {}
    for table in SEED_TABLES:
        path = SEEDS_DIR / f"{table.split('.')[1]}.csv"
        con.execute(f"create or replace table {table} as "
                    "select * from read_csv(?, header = true, all_varchar = true)", [str(path)])
    con.execute(f"create or replace table {ACCOUNT_CURRENCY_TABLE} as "
                "select * from (values (?::varchar)) as account(currency) where currency is not null",
                [account_currency])
    for table in (*SEED_TABLES, ACCOUNT_CURRENCY_TABLE):
        rows[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
    return rows
