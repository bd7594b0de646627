"""Building the warehouse's models in a test as a run does: the data files of sql/seeds first (the FOCUS
models join the tables pipelines/lib/focus.py `load_seeds` writes), then every model of sql/core and
sql/marts for the cycle, in the order their SQL reads each other."""

from __future__ import annotations

import duckdb

from pipelines.lib.focus import load_seeds
from pipelines.lib.sql_models import run_models


def build_every_model(con: duckdb.DuckDBPyConnection, cycle: str) -> None:
    """The seed tables, then every model for `cycle`, on a warehouse `ensure_schema` has made."""
    load_seeds(con)
    run_models(con, cycle)
