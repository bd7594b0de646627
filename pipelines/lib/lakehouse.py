"""The DuckLake warehouse for many partners written in parallel: the catalog in PostgreSQL, the data as
Parquet files in a folder or an S3 bucket (HUAWEI OBS), the same schemas as the DuckDB file.

    BILLRECON_WAREHOUSE=ducklake:postgres:host=db.internal port=5432 dbname=billrecon_lake user=billrecon
    BILLRECON_LAKE_DATA_PATH=s3://billrecon-lake/warehouse/     (or a folder)

A run replaces one (partner, bill cycle) partition of several tables in one DuckLake transaction:
readers see the partition as it was or as the run left it, never a mix, and a run killed half-way
leaves no trace in the catalog. Two runs writing different partitions of the same table can still
conflict at commit (DuckLake checks deletes and inserts per table, not per partition): the loser's
transaction is rolled back and run again, with backoff, a bounded number of times. Every run's
commit is a snapshot named after the run, so a reader can attach the lake as of that run.

A partition is one partner account's bill cycle. Every lake table carries the account in
`partner_account_id` (`partner_id` already names the reseller in several marts); a table with a bill
cycle column (`bill_cycle`, or FOCUS's `x_BillCycle`) is replaced per (account, cycle), its rows
without a cycle (pulls of the BSS API's latest lists) with every run of the account; a table without
one is replaced per account. The run's publish step fills it (pipelines/lib/lake_publish.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import duckdb

from pipelines.lib.bss.retry import RetryPolicy
from pipelines.lib.duckdb_extensions import load_extensions
from pipelines.lib.failures import ActionableError
from pipelines.lib.warehouse import SCHEMAS, use_own_spill_directory
from schemas.memory import process_duckdb_memory_limit

log = logging.getLogger(__name__)

LAKE_PREFIX = "ducklake:postgres:"
ALIAS = "lake"
COMMIT_AUTHOR = "billrecon"
ACCOUNT_COLUMN = "partner_account_id"
# the bill cycle of a row, by the first of these names its table has; a table with none is the account's whole
CYCLE_COLUMNS = ("bill_cycle", "x_BillCycle")
# a commit lost to a concurrent writer is retried this often by default (the first try included)
DEFAULT_RETRY = RetryPolicy(max_attempts=8, base_delay=0.2, max_delay=5.0, max_total_seconds=120.0)


class LakeError(ActionableError):
    """The lake cannot be used as configured or as asked; the message says what to do."""


def is_lake(warehouse: str | os.PathLike) -> bool:
    """Whether a BILLRECON_WAREHOUSE value names a DuckLake rather than a DuckDB file."""
    return str(warehouse).startswith("ducklake:")


def redact(text: str) -> str:
    """`text` (a connection string, or an error quoting one) with any inline password hidden."""
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s\"]+)", r"\1***", text)


@dataclass(frozen=True)
class S3Storage:
    """Where the lake's Parquet files go when its data path is s3://…; the keys are read at run time."""

    endpoint_url: str | None  # None: AWS's own endpoint
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    region: str = "ap-southeast-1"


@dataclass(frozen=True)
class LakeSettings:
    """The lake's catalog (a libpq connection string) and data path (a folder or s3://bucket/prefix/)."""

    catalog: str = field(repr=False)  # may hold a password: shown only through redact()
    data_path: str
    s3: S3Storage | None = None

    def __post_init__(self) -> None:
        if self.data_path.startswith("s3://") and self.s3 is None:
            raise LakeError(f"the lake's data path {self.data_path} is a bucket, but no S3 credentials are "
                            "set: set BILLRECON_LAKE_S3_ACCESS_KEY and BILLRECON_LAKE_S3_SECRET_KEY "
                            "(and BILLRECON_LAKE_S3_ENDPOINT for OBS or another S3-compatible store)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LakeSettings:
        """From BILLRECON_WAREHOUSE (ducklake:postgres:<conninfo>), BILLRECON_LAKE_DATA_PATH and, for a
        bucket, BILLRECON_LAKE_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY / _REGION. Call at run time."""
        environ = os.environ if environ is None else environ
        return cls.from_values(environ.get("BILLRECON_WAREHOUSE", ""), environ.get("BILLRECON_LAKE_DATA_PATH"),
                               s3_endpoint=environ.get("BILLRECON_LAKE_S3_ENDPOINT"),
                               s3_access_key=environ.get("BILLRECON_LAKE_S3_ACCESS_KEY"),
                               s3_secret_key=environ.get("BILLRECON_LAKE_S3_SECRET_KEY"),
                               s3_region=environ.get("BILLRECON_LAKE_S3_REGION"))

    @classmethod
    def from_values(cls, warehouse: str, data_path: str | None, *, s3_endpoint: str | None = None,
                    s3_access_key: str | None = None, s3_secret_key: str | None = None,
                    s3_region: str | None = None) -> LakeSettings:
        """The settings' values as given (the variables named in from_env), checked."""
        if not warehouse.startswith(LAKE_PREFIX) or not warehouse[len(LAKE_PREFIX):].strip():
            raise LakeError(f"BILLRECON_WAREHOUSE must be {LAKE_PREFIX}<libpq connection string> for a DuckLake, "
                            "e.g. ducklake:postgres:host=db port=5432 dbname=billrecon_lake user=billrecon")
        data_path = (data_path or "").strip()
        if not data_path:
            raise LakeError("BILLRECON_LAKE_DATA_PATH is not set: name the folder or s3://bucket/prefix/ "
                            "where the lake keeps its Parquet files")
        s3 = None
        if data_path.startswith("s3://") and s3_access_key:
            s3 = S3Storage(endpoint_url=s3_endpoint or None, access_key=s3_access_key, secret_key=s3_secret_key or "",
                           region=s3_region or "ap-southeast-1")
        return cls(catalog=warehouse[len(LAKE_PREFIX):].strip(), data_path=data_path, s3=s3)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(settings: LakeSettings, *, read_only: bool = False, snapshot: int | None = None
            ) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake attached as `lake` and in use.

    `read_only` refuses every write; `snapshot` pins the lake to that snapshot id (a run's, see
    `run_snapshot`). Writers keep every row in the data path (no rows inlined into the catalog).
    DuckDB gets its share of the process's memory budget (BILLRECON_MEMORY_LIMIT), as a warehouse
    file's connection does: without it an in-memory DuckDB takes 80 % of the machine's memory."""
    con = duckdb.connect()
    try:
        con.execute(f"set memory_limit = '{process_duckdb_memory_limit()}'")
        use_own_spill_directory(con)
        load_extensions(con, "ducklake", "postgres", *(["httpfs"] if settings.s3 else []))
        if settings.s3:
            _create_s3_secret(con, settings)
        options = [f"DATA_PATH {_literal(settings.data_path)}"]
        if read_only:
            options.append("READ_ONLY")
        else:
            options.append("DATA_INLINING_ROW_LIMIT 0")
        if snapshot is not None:
            options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
        _attach(con, f"attach {_literal(LAKE_PREFIX + settings.catalog)} as {ALIAS} ({', '.join(options)})",
                settings)
        con.execute(f"use {ALIAS}")
        return con
    except BaseException:
        con.close()
        raise


def _attach(con: duckdb.DuckDBPyConnection, statement: str, settings: LakeSettings, attempts: int = 5) -> None:
    """Attach the lake. The first attach of a new lake creates its catalog tables; two writers doing so
    at once collide in PostgreSQL, and the loser (rolled back) attaches the winner's catalog on a retry."""
    for attempt in range(1, attempts + 1):
        try:
            con.execute(statement)
            return
        except duckdb.Error as exc:
            first_line = str(exc).splitlines()[0]
            if attempt < attempts and "Failed to initialize DuckLake" in first_line and any(
                    sign in first_line for sign in ("duplicate key", "already exists")):
                log.warning("the lake's catalog was being created by another writer (%s); attaching again",
                            redact(first_line))
                time.sleep(0.2 * attempt)
                continue
            raise LakeError(f"cannot attach the DuckLake catalog {redact(settings.catalog)}: "
                            f"{redact(first_line)}") from None


def _create_s3_secret(con: duckdb.DuckDBPyConnection, settings: LakeSettings) -> None:
    s3 = settings.s3
    parts = [f"key_id {_literal(s3.access_key)}", f"secret {_literal(s3.secret_key)}",
             f"region {_literal(s3.region)}", "url_style 'path'"]
    if s3.endpoint_url:
        endpoint = urlsplit(s3.endpoint_url) if "://" in s3.endpoint_url else urlsplit("https://" + s3.endpoint_url)
        parts += [f"endpoint {_literal(endpoint.netloc)}", f"use_ssl {str(endpoint.scheme == 'https').lower()}"]
    con.execute(f"create or replace temporary secret billrecon_lake (type s3, {', '.join(parts)})")


def ensure_schemas(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = SCHEMAS,
                   retry: RetryPolicy = DEFAULT_RETRY) -> None:
    """The warehouse's schemas (by default landing, staging, core, marts, audit) in the lake."""
    def create() -> None:
        with transaction(con):
            for schema in schemas:
                con.execute(f"create schema if not exists {ALIAS}.{schema}")
    with_conflict_retry(create, what="creating the lake's schemas", retry=retry)


def partition_by_partner_and_cycle(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Lay the table's new files out per account and bill cycle (per account if it has no cycle), one
    folder each."""
    scope = _scope(con, table)
    columns = [ACCOUNT_COLUMN, *([scope.cycle_column] if scope.cycle_column else [])]
    con.execute(f"alter table {ALIAS}.{table} set partitioned by ({', '.join(_quoted(c) for c in columns)})")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Partition:
    partner_account_id: str   # the account of partners.toml (ACCOUNT_COLUMN), not the bill's partner_id
    bill_cycle: str

    def __str__(self) -> str:
        return f"partner account {self.partner_account_id}, bill cycle {self.bill_cycle}"


@dataclass(frozen=True)
class Commit:
    """A landed run: its snapshot id and how many attempts it took (1 = no conflict; 0 = nothing to
    write, the lake already held the run's rows in that snapshot)."""

    snapshot_id: int
    attempts: int


# rows of one table: SQL (a select), anything DuckDB scans (polars, pandas, Arrow), or a function
# returning one, called again on every attempt (e.g. to read the run's staged files anew)
Rows = Any


def replace_partition(con: duckdb.DuckDBPyConnection, partition: Partition, rows: Mapping[str, Rows], *,
                      run_id: str, retry: RetryPolicy = DEFAULT_RETRY,
                      sleep: Callable[[float], None] = time.sleep, logger: Any = log,
                      extra_info: Mapping[str, Any] | None = None) -> Commit:
    """Replace `partition` in every table of `rows` (schema.table -> its new rows) in one transaction,
    committed as the snapshot of run `run_id` (`extra_info` joins what the snapshot records). A commit
    lost to a concurrent writer is retried."""
    def attempt() -> int:
        with partition_transaction(con, partition, list(rows), run_id=run_id, extra_info=extra_info):
            for table, source in rows.items():
                insert_partition_rows(con, partition, table, source() if callable(source) else source)
        return last_snapshot(con)
    snapshot_id, attempts = with_conflict_retry(attempt, what=f"run {run_id} ({partition})", retry=retry,
                                                sleep=sleep, counted=True, logger=logger)
    return Commit(snapshot_id=snapshot_id, attempts=attempts)


@contextlib.contextmanager
def partition_transaction(con: duckdb.DuckDBPyConnection, partition: Partition, tables: list[str], *,
                          run_id: str, extra_info: Mapping[str, Any] | None = None
                          ) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction that first empties `partition` in each table, lets the caller insert, and
    commits as the snapshot of run `run_id`; on any error, or if the process dies, nothing of it lands."""
    with transaction(con):
        for table in tables:
            where, params = _scope(con, table).rows_of(partition)
            con.execute(f"delete from {ALIAS}.{table} where {where}", params)
        yield con
        info = {"run_id": run_id, ACCOUNT_COLUMN: partition.partner_account_id, "bill_cycle": partition.bill_cycle,
                "tables": tables, **(extra_info or {})}
        con.execute(f"call {ALIAS}.set_commit_message(?, ?, extra_info => ?)",
                    [COMMIT_AUTHOR, f"run {run_id}: {partition}", json.dumps(info)])


def insert_partition_rows(con: duckdb.DuckDBPyConnection, partition: Partition, table: str, source: Rows) -> int:
    """Insert `source` into the lake table by column name; every row must belong to `partition`."""
    if isinstance(source, str):
        relation = con.sql(source)
    else:
        relation = con.from_arrow(source) if hasattr(source, "__arrow_c_stream__") else con.from_df(source)
    relation.create_view("billrecon_incoming_rows", replace=True)
    try:
        where, params = _scope(con, table).rows_of(partition)
        (outside,), = con.execute(f"select count(*) from billrecon_incoming_rows where not coalesce({where}, false)",
                                  params).fetchall()
        if outside:
            raise LakeError(f"{outside} row(s) for {table} are not of {partition}: a run replaces its own "
                            "partition only, so nothing was written")
        (count,), = con.execute(
            f"insert into {ALIAS}.{table} by name select * from billrecon_incoming_rows").fetchall()
        return count
    finally:
        # after a failed statement the transaction is aborted and refuses even this; the view goes with
        # its rollback, and the statement's own error is the one to report
        with contextlib.suppress(duckdb.Error):
            con.execute("drop view if exists billrecon_incoming_rows")


@dataclass(frozen=True)
class _Scope:
    """Which rows of a lake table a partition covers."""

    cycle_column: str | None

    def rows_of(self, partition: Partition) -> tuple[str, list[str]]:
        """A condition on the table's rows, and its parameters: the account's, of the cycle or of none."""
        if self.cycle_column is None:
            return f"{ACCOUNT_COLUMN} = ?", [partition.partner_account_id]
        cycle = _quoted(self.cycle_column)
        return f"{ACCOUNT_COLUMN} = ? and ({cycle} = ? or {cycle} is null)", [partition.partner_account_id,
                                                                              partition.bill_cycle]


def _scope(con: duckdb.DuckDBPyConnection, table: str) -> _Scope:
    schema, _, name = table.partition(".")
    columns = {column for (column,) in con.execute(
        "select column_name from duckdb_columns() where database_name = ? and schema_name = ? and table_name = ?",
        [ALIAS, schema, name]).fetchall()}
    if not columns:
        raise LakeError(f"the lake has no table {table} (name it as schema.table)")
    if ACCOUNT_COLUMN not in columns:
        raise LakeError(f"the lake table {table} lacks {ACCOUNT_COLUMN}: a partition is one partner account's "
                        "bill cycle, so every table a run replaces carries the account")
    return _Scope(next((column for column in CYCLE_COLUMNS if column in columns), None))


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed commit has ended the transaction already
            con.execute("rollback")
        raise
    con.execute("commit")


def is_conflict(error: BaseException) -> bool:
    """A commit lost to a concurrent writer: worth running the whole transaction again."""
    return isinstance(error, duckdb.TransactionException) and "conflict" in str(error).lower()


def with_conflict_retry(action: Callable[[], Any], *, what: str, retry: RetryPolicy = DEFAULT_RETRY,
                        sleep: Callable[[float], None] = time.sleep, draw: Callable[[], float] = random.random,
                        counted: bool = False, logger: Any = log) -> Any:
    """`action()` (one whole transaction) until it commits; a conflict is logged and retried with
    capped, jittered exponential backoff within the policy's attempts and time, then given up."""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            result = action()
            return (result, attempt) if counted else result
        except duckdb.Error as exc:
            if not is_conflict(exc):
                raise
            reason = str(exc).splitlines()[-1]
            delay = retry.backoff(attempt, draw)
            if attempt >= retry.max_attempts or time.monotonic() - started + delay > retry.max_total_seconds:
                raise LakeError(f"{what} lost its commit to concurrent writers {attempt} times ({reason}); "
                                "nothing of it landed: run it again") from None
            # `logger`: this module's, or the run's (Dagster's log takes one finished message)
            logger.warning(f"{what}: commit conflict on attempt {attempt} of {retry.max_attempts} ({reason}); "
                           f"retrying in {delay:.2f} s")
            sleep(delay)


# ------------------------------------------------------------------------------------------- snapshots

def last_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The snapshot this connection committed last (another writer's may be newer)."""
    (snapshot_id,), = con.execute(f"select id from {ALIAS}.last_committed_snapshot()").fetchall()
    return int(snapshot_id)


# the account a run snapshot is for, recorded under the name of its column in every lake table
_SNAPSHOT_ACCOUNT = f"json_extract_string(commit_extra_info, '$.{ACCOUNT_COLUMN}')"


def run_snapshot(con: duckdb.DuckDBPyConnection, run_id: str) -> int | None:
    """The snapshot run `run_id` committed, or None if it never landed."""
    found = con.execute(
        f"select max(snapshot_id) from {ALIAS}.snapshots() where author = ? "
        "and json_extract_string(commit_extra_info, '$.run_id') = ?", [COMMIT_AUTHOR, run_id]).fetchall()
    return found[0][0]


def latest_partner_snapshot(con: duckdb.DuckDBPyConnection, partner_account_id: str) -> dict[str, Any] | None:
    """The newest run snapshot of the account: its id, bill cycle and recorded extra info; None if none."""
    found = con.execute(
        f"""select snapshot_id, commit_extra_info from {ALIAS}.snapshots()
            where author = ? and {_SNAPSHOT_ACCOUNT} = ?
            order by snapshot_id desc limit 1""", [COMMIT_AUTHOR, partner_account_id]).fetchall()
    if not found:
        return None
    snapshot_id, info = found[0]
    return {"snapshot_id": snapshot_id, **json.loads(info)}


def run_snapshots(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every run's snapshot, oldest first: id, time, run id, partner, bill cycle."""
    rows = con.execute(
        f"""select snapshot_id, snapshot_time, json_extract_string(commit_extra_info, '$.run_id'),
                   {_SNAPSHOT_ACCOUNT}, json_extract_string(commit_extra_info, '$.bill_cycle')
            from {ALIAS}.snapshots() where author = ? order by snapshot_id""", [COMMIT_AUTHOR]).fetchall()
    return [dict(zip(("snapshot_id", "snapshot_time", "run_id", ACCOUNT_COLUMN, "bill_cycle"), row)) for row in rows]
