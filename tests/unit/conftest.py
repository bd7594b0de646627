"""Fixtures the unit tests share."""

import duckdb
import pytest

from pipelines.lib.warehouse import ensure_schema


@pytest.fixture
def con():
    """An empty in-memory warehouse with every DDL table (a module may define its own `con`)."""
    con = duckdb.connect()
    ensure_schema(con)
    yield con
    con.close()
