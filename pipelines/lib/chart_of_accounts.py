"""Staging of the partner's chart of accounts (agreements/chart_of_accounts.csv,
docs/formats.md#chart-of-accounts), like the other agreement files: typed, validated, bad rows
quarantined, one audit.loads row per delivery."""

from __future__ import annotations

import duckdb

from pipelines.lib.landing import Delivery
from pipelines.lib.staging import Dataset, MemberLimits, StageOutcome, stage_csv_object
from schemas.chart_of_accounts import ChartOfAccountsModel
from schemas.datasets import CHART_OF_ACCOUNTS

CHART_OF_ACCOUNTS_KEY = "agreements/chart_of_accounts.csv"

CHART_DATASET = Dataset("agreements", CHART_OF_ACCOUNTS, ChartOfAccountsModel, "staging.chart_of_account")


def stage_chart_of_accounts(con: duckdb.DuckDBPyConnection, delivery: Delivery, load_id: str,
                            limits: MemberLimits) -> StageOutcome:
    """Replace the chart of accounts with this delivery of agreements/chart_of_accounts.csv."""
    con.execute("delete from staging.chart_of_account")
    return stage_csv_object(con, delivery, CHART_DATASET, None, load_id, limits)
