"""pandera model of the partner's chart of accounts for the journal (docs/formats.md#chart-of-accounts):
which ledger code and name each account of the journal (docs/journal.md) posts to."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

# The journal's accounts, the keys a chart maps to codes. Their default codes and names are the
# default chart, sql/core/chart_of_accounts.sql.
ACCOUNTS = (
    "customer_receivable", "revenue", "customer_refunds",
    "huawei_payable", "cost_of_sales", "cost_refunds",
    "coupons_and_vouchers", "billing_adjustments",
    "incentive_receivable", "incentive_income",
)


class ChartOfAccountsModel(pa.DataFrameModel):
    account: str = pa.Field(nullable=False)
    account_code: str = pa.Field(nullable=False, str_length={"max_value": 32})
    account_name: str = pa.Field(nullable=False, str_length={"max_value": 128})

    @pa.dataframe_check(name="CHART.UNKNOWN_ACCOUNT")
    def known_account(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("account").is_in(ACCOUNTS))

    @pa.dataframe_check(name="CHART.DUPLICATE_ACCOUNT")
    def account_mapped_once(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("account").is_first_distinct())

    class Config:
        strict = False
        coerce = False
