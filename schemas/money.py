"""The warehouse's exact numeric types, defined once (docs/architecture.md#the-warehouse-contract).

Each type is given as the polars dtype that schemas and parsers declare and as the DuckDB spelling
that Python writes into DDL and casts; the second is derived from the first, so they cannot drift.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

# A line's amount: 12 digits before the point, 8 after (the precision of HUAWEI CLOUD's files).
MONEY = pl.Decimal(20, 8)
# Sums and differences of MONEY values: 38 digits cannot overflow for any amounts MONEY admits.
MONEY_SUM = pl.Decimal(38, 8)
# A usage quantity (bytes, hours, requests…): larger than any amount, same 8 places.
QUANTITY = pl.Decimal(28, 8)
# A discount or rebate rate of the partner's files, between 0 and 1.
RATE = pl.Decimal(9, 6)


def duckdb_type(dtype: pl.Decimal) -> str:
    """The DuckDB name of a polars Decimal type, as DuckDB itself writes it: ``DECIMAL(20,8)``."""
    return f"DECIMAL({dtype.precision},{dtype.scale})"


MONEY_SQL = duckdb_type(MONEY)
MONEY_SUM_SQL = duckdb_type(MONEY_SUM)
QUANTITY_SQL = duckdb_type(QUANTITY)

# The smallest step of a stored amount (one unit of the eighth decimal), for quantizing Decimals.
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY.scale)
# The first amount MONEY cannot hold: every amount is strictly smaller in absolute value.
MONEY_LIMIT = Decimal(10) ** (MONEY.precision - MONEY.scale)
