"""Shared types and base models of the staged BSS API datasets (pipelines/lib/bss).

The models are the typed schema of each staging table: the loader builds its polars frame with the
dtypes declared here, then validates it; a failing row goes to audit.quarantine under the rule id
of the check (`not_nullable` → API.REQUIRED, `isin` → API.ENUM, `str_matches` → API.FORMAT,
`str_length` → API.TOO_LONG, a dataframe check → its own name, see schemas/rules.py; the mapping is
pipelines/lib/rejections.py).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.bill_cycle import CYCLE_PATTERN
from schemas.checks import rule_check

UTC_TIME = pl.Datetime("us", "UTC")
MONEY_MEASURE_ID = 1   # every v2 amount is in major units of the currency (docs/domain.md)


class ApiRecord(pa.DataFrameModel):
    """Every staged API row: when the snapshot it comes from was fetched."""

    fetched_at: UTC_TIME = pa.Field(nullable=False)

    class Config:
        strict = False   # lineage columns travel with the frame
        coerce = False   # the loader already typed every column


class SnapshotRecord(ApiRecord):
    """A row of a slowly changing dataset: one copy per snapshot date (GMT+8)."""

    snapshot_date: pl.Date = pa.Field(nullable=False)


class CycleRecord(ApiRecord):
    """A row of a dataset pulled per bill cycle."""

    bill_cycle: str = pa.Field(nullable=False, str_matches=CYCLE_PATTERN)


class CustomerScoped(pa.DataFrameModel):
    """Rows that belong to one customer, and through it to a reseller when the customer has one."""

    customer_id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 64})
    indirect_partner_id: str = pa.Field(nullable=True)


class InMajorUnits(pa.DataFrameModel):
    """Rows whose amounts carry a measure_id: only 1 (major units) is accepted."""

    measure_id: pl.Int64 = pa.Field(nullable=True)

    @rule_check("API.MONEY_UNIT")
    def amounts_in_major_units(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("measure_id").is_null() | (pl.col("measure_id") == MONEY_MEASURE_ID))
