"""Checks the pandera models share: dataframe checks named by their rule id, and what the agreement
models (customer discounts, incentive rates) have in common, their validity window and rate check.

A dataframe check's name is the rule id of its failures (schemas/rules.py). pandera 0.35 gives a
check inherited from a base model its name in the first model built only, and its function's name
in the others, so `rule_check` names the function after the rule as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandera.polars as pa
import polars as pl

from schemas.money import RATE


def rule_check(rule_id: str) -> Callable[[Callable[..., Any]], Any]:
    """`pa.dataframe_check` reported under `rule_id` in every model that has it, inherited or not."""
    def decorate(check: Callable[..., Any]) -> Any:
        check.__name__ = rule_id
        return pa.dataframe_check(name=rule_id)(check)
    return decorate


def rate_in_unit_interval(column: str) -> pl.Expr:
    """A rate between 0 and 1, both included."""
    rate = pl.col(column)
    return (rate >= pl.lit(0, RATE)) & (rate <= pl.lit(1, RATE))


class ValidityWindow(pa.DataFrameModel):
    """A row valid from a date, until a date or open-ended (valid_to empty)."""

    valid_from: pl.Date = pa.Field(nullable=False)
    valid_to: pl.Date = pa.Field(nullable=True)

    @classmethod
    def _collect_fields(cls):  # pandera's own hook, extended
        # pandera lists a base's fields first; the files (and so the order in which a row's first
        # failure is chosen) put the window last, after the model's own columns.
        fields = super()._collect_fields()
        window = {name: fields.pop(name) for name in ValidityWindow.__annotations__}
        return {**fields, **window}

    @rule_check("AGREEMENT.DATE_ORDER")
    def valid_to_not_before_valid_from(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("valid_to").is_null() | (pl.col("valid_to") >= pl.col("valid_from")))

    class Config:
        strict = False  # lineage and extra columns travel with the frame
        coerce = False  # the parser already typed every column
