"""Check expressions shared by the agreement models (customer discounts, incentive rates).

Each model keeps its own decorated check (pandera names a failure after the check, and the name is
the rule id), and builds it from these expressions so the rule itself is written once.
"""

from __future__ import annotations

import polars as pl

from schemas.money import RATE


def rate_in_unit_interval(column: str) -> pl.Expr:
    """A rate between 0 and 1, both included."""
    rate = pl.col(column)
    return (rate >= pl.lit(0, RATE)) & (rate <= pl.lit(1, RATE))


def validity_in_order() -> pl.Expr:
    """An open end (valid_to empty) or an end not before the start."""
    return pl.col("valid_to").is_null() | (pl.col("valid_to") >= pl.col("valid_from"))
