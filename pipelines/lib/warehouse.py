"""The DuckDB warehouse file: connections, schema bootstrap, transactions."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import duckdb

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
SCHEMAS = ("landing", "staging", "core", "marts", "audit")
# DDL of the tables Python writes directly; core and marts are models (see sql_models.py)
DDL_LAYERS = ("landing", "audit", "staging")


def connect(path: str | Path, *, memory_limit: str | None = None, threads: int | None = None,
            read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file; a second writing process gets a clear error, not a corrupt file."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, str] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = str(threads)
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusy(
                f"the warehouse {path} is open for writing by another process; "
                "only one run may write at a time (wait for it, or read the published snapshot)"
            ) from exc
        raise


class WarehouseBusy(RuntimeError):
    """Another process holds the write lock on the warehouse file."""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    for layer in DDL_LAYERS:
        for ddl in sorted((SQL_DIR / layer).glob("*.sql")):
            con.execute(ddl.read_text(encoding="utf-8"))


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a month is replaced in one transaction, never half-written."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
