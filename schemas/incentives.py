"""pandera models of the incentive files: the monthly incentive statement (docs/formats.md#incentive-statement)
and the partner programme's rebate rates (docs/formats.md#incentive-rates)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.aliases import STATEMENT_STATUS_VALUES
from schemas.bill_cycle import CYCLE_PATTERN
from schemas.checks import ValidityWindow, rate_in_unit_interval
from schemas.money import MONEY, RATE


class IncentiveStatementModel(pa.DataFrameModel):
    """One line of a monthly incentive statement; the file names the period it reconciles."""

    statement_id: str = pa.Field(nullable=False)
    period: str = pa.Field(nullable=False, str_matches=CYCLE_PATTERN)
    incentive_type: str = pa.Field(nullable=False)
    customer_id: str = pa.Field(nullable=True, str_length={"max_value": 64})
    performance_amount: MONEY = pa.Field(nullable=True)
    incentive_rate: RATE = pa.Field(nullable=True)
    incentive_amount: MONEY = pa.Field(nullable=True)
    status: str = pa.Field(nullable=True, isin=sorted(STATEMENT_STATUS_VALUES))
    source_bill_cycle: str = pa.Field(nullable=False)

    @pa.dataframe_check(name="STATEMENT.PERIOD_MISMATCH")
    def period_matches_file(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("period") == pl.col("source_bill_cycle"))

    class Config:
        strict = False  # lineage and extra columns travel with the frame
        coerce = False  # the parser already typed every column


class IncentiveRateModel(ValidityWindow):
    """One rebate rate of an incentive type and incentive policy code, valid between two dates."""

    incentive_type: str = pa.Field(nullable=False)
    policy_code: pl.Int16 = pa.Field(nullable=False)
    rate: RATE = pa.Field(nullable=False)

    @pa.dataframe_check(name="AGREEMENT.INCENTIVE_RATE_RANGE")
    def rate_between_zero_and_one(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(rate_in_unit_interval("rate"))
