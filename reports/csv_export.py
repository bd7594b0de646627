"""CSV files of a month close: the marts for import elsewhere, and one bill per customer.

Money keeps all 8 stored decimals as plain text (``1234.50000000``, never an exponent), so an
import adds up to the cent exactly as the warehouse does. Text fields are neutralised against
formula injection because these files end up opened in Excel too; numbers are written as numbers.
Lines end in CRLF (RFC 4180).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any

import duckdb

from reports import data as marts
from reports.files import atomic_output_path
from reports.formatting import plain_decimal, utc_timestamp_text
from reports.safety import neutralise_spreadsheet_text, unique_file_stems

CUSTOMER_BILLS_DIRECTORY = "customer_bills"

# Mart exports are for machines: plain UTF-8. Customer bills are opened by people, mostly in
# Excel, which reads a BOM-less CSV in the legacy code page and garbles Chinese text; the BOM
# makes it read UTF-8.
MART_CSV_ENCODING = "utf-8"
CUSTOMER_BILL_ENCODING = "utf-8-sig"

TOTAL_LABEL = "TOTAL"

# (header, customer_bill_line column). The partner's own cost (amount_due) and the internal
# agreement rule are deliberately not part of what the customer receives.
CUSTOMER_BILL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Trade Time (GMT+8)", "trade_time_local"),
    ("Bill Type", "bill_type"),
    ("Order/Transaction No.", "trade_id"),
    ("Original Order No.", "original_order_id"),
    ("Service", "service_type_name"),
    ("Resource Type", "resource_type_name"),
    ("Product", "product_name"),
    ("Region", "region_code"),
    ("Resource ID", "resource_id"),
    ("Resource Name", "resource_name"),
    ("Usage", "usage_amount"),
    ("Usage Unit", "usage_unit"),
    ("List Price (USD)", "official_amount"),
    ("Discount Rate", "discount_rate"),
    ("Charge (USD)", "customer_charge_amount"),
)
# Columns summed on the TOTAL line (usage is not: its units differ from line to line).
CUSTOMER_BILL_TOTALLED = ("official_amount", "customer_charge_amount")


def csv_text(value: Any) -> str:
    """One CSV field: plain decimals, UTC timestamps, neutralised text, empty for NULL."""
    if value is None:
        return ""
    if type(value) is str:  # the common case first: this runs for every field of every line
        return neutralise_spreadsheet_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, datetime):
        return utc_timestamp_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return neutralise_spreadsheet_text(str(value))


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]],
               encoding: str) -> Path:
    with atomic_output_path(path) as temp_path:
        with temp_path.open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow([csv_text(name) for name in header])
            for row in rows:
                writer.writerow([csv_text(value) for value in row])
    return path


def write_table_csv(
    directory: Path, con: duckdb.DuckDBPyConnection, export: marts.TableExport, bill_cycle: str
) -> Path:
    """Write every column of ``export``'s rows for the cycle to ``<directory>/<name>.csv``."""
    columns, rows = marts.stream_rows(con, export, bill_cycle)
    return _write_csv(directory / f"{export.name}.csv", columns, rows, MART_CSV_ENCODING)


def write_customer_bills(
    directory: Path, con: duckdb.DuckDBPyConnection, bill_cycle: str
) -> dict[str, Path]:
    """One CSV per customer with a billed line in the cycle; returns customer id -> path.

    Bills of customers that no longer have lines (a re-delivered bill file can drop a customer)
    are removed, so the folder always matches the current data.
    """
    bills_directory = directory / CUSTOMER_BILLS_DIRECTORY
    bills_directory.mkdir(parents=True, exist_ok=True)
    customer_ids = [row[0] for row in con.execute(
        f"SELECT DISTINCT customer_id FROM {marts.BILL_LINE_TABLE} WHERE bill_cycle = ?",
        [bill_cycle],
    ).fetchall()]
    stems = unique_file_stems([customer_id or "" for customer_id in customer_ids])

    names, rows = marts.stream_rows(con, marts.CUSTOMER_BILL_LINE, bill_cycle)
    positions = [names.index(column) for _, column in CUSTOMER_BILL_COLUMNS]
    customer_position = names.index("customer_id")

    written: dict[str, Path] = {}
    # stream_rows orders by customer_id first, so each customer's lines arrive together.
    for customer_id, customer_rows in groupby(rows, key=lambda row: row[customer_position]):
        path = bills_directory / f"{stems[customer_id or '']}.csv"
        bill_rows = _bill_rows([[row[p] for p in positions] for row in customer_rows])
        _write_csv(path, [header for header, _ in CUSTOMER_BILL_COLUMNS], bill_rows,
                   CUSTOMER_BILL_ENCODING)
        written[customer_id] = path

    current = set(written.values())
    for stale in bills_directory.glob("*.csv"):
        if stale not in current:
            stale.unlink()
    return written


def _bill_rows(lines: list[list[Any]]) -> Iterator[list[Any]]:
    """The customer's lines followed by the TOTAL line."""
    yield from lines
    columns = [column for _, column in CUSTOMER_BILL_COLUMNS]
    total: list[Any] = [None] * len(columns)
    total[0] = TOTAL_LABEL
    for column in CUSTOMER_BILL_TOTALLED:
        index = columns.index(column)
        total[index] = sum((line[index] for line in lines if line[index] is not None),
                           Decimal("0.00000000"))
    yield total
