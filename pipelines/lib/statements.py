"""Staging of the incentive files: the monthly incentive statement finance exports from Partner Center
(docs/formats.md#incentive-statement) and the partner programme's rebate rates
(docs/formats.md#incentive-rates). Both are plain CSV objects,
staged like the customer discount agreements: typed, validated, bad rows quarantined, one
audit.loads row per delivery."""

from __future__ import annotations

import duckdb

from pipelines.lib.landing import Delivery
from pipelines.lib.staging import Dataset, MemberLimits, StageOutcome, stage_csv_object
from schemas.bill_cycle import BillCycle
from schemas.datasets import INCENTIVE_RATE, INCENTIVE_STATEMENT
from schemas.incentives import IncentiveRateModel, IncentiveStatementModel

STATEMENT_SOURCE = "incentives"
STATEMENT_PREFIX = "incentives/"
INCENTIVE_RATES_KEY = "agreements/incentive_rates.csv"

STATEMENT_DATASET = Dataset(STATEMENT_SOURCE, INCENTIVE_STATEMENT, IncentiveStatementModel,
                            "staging.incentive_statement")
RATE_DATASET = Dataset("agreements", INCENTIVE_RATE, IncentiveRateModel, "staging.incentive_rate")


def statement_key(period: str) -> str:
    """Object key of the incentive statement of `period` ('YYYY-MM')."""
    return f"{STATEMENT_PREFIX}incentive_statement_{BillCycle.parse(period).compact}.csv"


def stage_incentive_statement(con: duckdb.DuckDBPyConnection, delivery: Delivery, period: str,
                              load_id: str, limits: MemberLimits) -> StageOutcome:
    """Replace the statement lines of `period` with this delivery (caller holds the transaction).
    A line naming another period is quarantined, so the period's lines are exactly the file's."""
    con.execute("delete from staging.incentive_statement where period = ?", [period])
    return stage_csv_object(con, delivery, STATEMENT_DATASET, period, load_id, limits)


def stage_incentive_rates(con: duckdb.DuckDBPyConnection, delivery: Delivery, load_id: str,
                          limits: MemberLimits) -> StageOutcome:
    """Replace the rebate rates with this delivery of agreements/incentive_rates.csv."""
    con.execute("delete from staging.incentive_rate")
    return stage_csv_object(con, delivery, RATE_DATASET, None, load_id, limits)
