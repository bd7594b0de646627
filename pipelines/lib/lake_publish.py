"""Publishing a run's month to the DuckLake warehouse, when BILLRECON_WAREHOUSE names one.

A run builds its month in its partner's DuckDB working file, exactly as without a lake; its last step
replaces that partner's month in the lake: every table and view of `marts` and `audit` (the ones
analysts read; `audit.model_builds` is the run's own bookkeeping), with the account added as
`partner_account_id`, in one transaction committed as the snapshot of the run (lakehouse.py), unless
the account's last commit wrote the same month from the same content (a rerun with nothing new). A view
of the working file (e.g. marts.customer_bill_line) is a table in the lake, so the lake needs none of
the layers below. The first run creates each lake table from its working table's columns.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib import lakehouse
from pipelines.lib.fingerprint import warehouse_fingerprint
from pipelines.lib.lakehouse import ACCOUNT_COLUMN, ALIAS, CYCLE_COLUMNS, LakeError, LakeSettings, Partition
from pipelines.lib.partners import Partner, PartnersConfigError, run_partner_id
from pipelines.lib.warehouse import column_differences, connect

PUBLISHED_SCHEMAS = ("marts", "audit")
NOT_PUBLISHED = ("audit.model_builds",)  # the fingerprints that let a run skip a rebuild: the working file's
WORK = "work"  # the working file, attached read-only beside the lake


# one row per account, replaced by each of its publishes: who the account is, and its last published
# month with the verdict of that month's pack (the group view of README "Scale out" reads it)
ACCOUNT_TABLE = "marts.partner_account"
ACCOUNT_COLUMNS = {
    ACCOUNT_COLUMN: "varchar", "name": "varchar", "site": "varchar", "currency": "varchar",
    "last_run_id": "varchar", "last_published_at": "timestamp with time zone", "last_published_cycle": "varchar",
    "close_status": "varchar", "close_headline": "varchar",
}


# the accounts side by side, as analysts read them on the attached lake (README "Scale out"): each
# account's last published month, its close status, its totals in its own currency, its findings
ACCOUNTS_SIDE_BY_SIDE = """
select a.currency, a.partner_account_id, a.name, a.site, a.last_published_cycle, a.close_status,
       sum(e.amount_due) as amount_due, sum(e.customer_charge_amount) as customer_charge_amount,
       sum(e.margin_amount) as margin_amount,
       (select count(*) from marts.reconciliation_findings f
        where f.partner_account_id = a.partner_account_id and f.bill_cycle = a.last_published_cycle) as findings
from marts.partner_account a
left join marts.customer_monthly_expenditure e
    on e.partner_account_id = a.partner_account_id and e.bill_cycle = a.last_published_cycle
group by all
order by a.currency, a.partner_account_id
"""


def account_row(partner: Partner, *, run_id: str, bill_cycle: str, close_status: str, close_headline: str) -> str:
    """The select of the account's row of ACCOUNT_TABLE."""
    values = {ACCOUNT_COLUMN: partner.id, "name": partner.name, "site": partner.site, "currency": partner.currency,
              "last_run_id": run_id, "last_published_cycle": bill_cycle, "close_status": close_status,
              "close_headline": close_headline}
    columns = [f"current_timestamp::{kind} as {column}" if column == "last_published_at"
               else f"{_literal(values[column])}::{kind} as {column}" for column, kind in ACCOUNT_COLUMNS.items()]
    return "select " + ", ".join(columns)


def publish_to_lake(working: Path, settings: LakeSettings, partition: Partition, *, run_id: str,
                    account: str | None = None,
                    retry: lakehouse.RetryPolicy = lakehouse.DEFAULT_RETRY, logger: Any = lakehouse.log
                    ) -> lakehouse.Commit:
    """Replace `partition` (the run's account and bill cycle) in every published table of the lake with
    the working file's rows, and the account's row of ACCOUNT_TABLE with `account` (see `account_row`),
    in one transaction named after `run_id`; a lost commit is retried, and each retry logged to `logger`."""
    fingerprint = _checkpoint(working)
    check_data_path(settings)
    con = lakehouse.connect(settings)
    try:
        latest = lakehouse.latest_partner_snapshot(con, partition.partner_account_id)
        if latest and (latest["bill_cycle"], latest.get("fingerprint")) == (partition.bill_cycle, fingerprint):
            # the account's last commit wrote this month from the same content: nothing new to publish
            return lakehouse.Commit(snapshot_id=latest["snapshot_id"], attempts=0)
        con.execute(f"attach {_literal(str(working))} as {WORK} (read_only)")
        tables = published_tables(con)
        lakehouse.ensure_schemas(con, PUBLISHED_SCHEMAS, retry)
        lakehouse.with_conflict_retry(lambda: _ensure_tables(con, tables), what="creating the lake's tables",
                                      retry=retry, logger=logger)
        rows = {table: _rows_of(con, table, partition) for table in tables}
        if account is not None:
            lakehouse.with_conflict_retry(lambda: _ensure_account_table(con), what=f"creating {ACCOUNT_TABLE}",
                                          retry=retry, logger=logger)
            rows[ACCOUNT_TABLE] = account
        return lakehouse.replace_partition(con, partition, rows, run_id=run_id, retry=retry, logger=logger,
                                           extra_info={"fingerprint": fingerprint})
    finally:
        con.close()


def _checkpoint(working: Path) -> str:
    """Every committed change of the working file into the file itself, before it is read read-only;
    returns the file's content fingerprint (the one that spares an unchanged published copy, publish.py)."""
    con = connect(working)  # within the process's memory budget, a busy file said in one line
    try:
        con.execute("checkpoint")
        return warehouse_fingerprint(con)
    finally:
        con.close()


def published_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """`schema.table` of every table and view of the published schemas in the working file."""
    names = con.execute(
        """select schema_name || '.' || table_name from duckdb_tables()
           where database_name = $db and schema_name in (select unnest($schemas))
           union
           select schema_name || '.' || view_name from duckdb_views()
           where database_name = $db and schema_name in (select unnest($schemas)) and not internal
           order by 1""", {"db": WORK, "schemas": list(PUBLISHED_SCHEMAS)}).fetchall()
    return [name for (name,) in names if name not in NOT_PUBLISHED]


def _columns(con: duckdb.DuckDBPyConnection, database: str, table: str) -> dict[str, str]:
    schema, _, name = table.partition(".")
    return dict(con.execute(
        """select column_name, data_type from duckdb_columns()
           where database_name = ? and schema_name = ? and table_name = ? order by column_index""",
        [database, schema, name]).fetchall())


def _ensure_tables(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """Create the lake tables the working file has and the lake lacks (its columns, the account first,
    laid out per account and cycle); refuse a lake table whose columns differ, naming each difference."""
    problems, created = [], []
    with lakehouse.transaction(con):
        for table in tables:
            have = _columns(con, ALIAS, table)
            if not have:
                con.execute(f"create table {ALIAS}.{table} as select ''::varchar as {ACCOUNT_COLUMN}, * "
                            f"from {WORK}.{table} limit 0")
                created.append(table)
                continue
            problems += column_differences(table, _columns(con, WORK, table), have)
        if problems:
            raise LakeError("the lake's tables were created by another version of billrecon: " + "; ".join(problems)
                            + ". Nothing was published; add the columns to the lake (ALTER TABLE … ADD COLUMN) or "
                            "start a new lake")
        for table in created:
            lakehouse.partition_by_partner_and_cycle(con, table)

def _ensure_account_table(con: duckdb.DuckDBPyConnection) -> None:
    columns = ", ".join(f"{column} {kind}" for column, kind in ACCOUNT_COLUMNS.items())
    with lakehouse.transaction(con):
        con.execute(f"create table if not exists {ALIAS}.{ACCOUNT_TABLE} ({columns})")


def _rows_of(con: duckdb.DuckDBPyConnection, table: str, partition: Partition) -> str:
    """The select of the working table's rows of `partition`, with the account added."""
    columns = _columns(con, WORK, table)
    cycle = next((column for column in CYCLE_COLUMNS if column in columns), None)
    select = f"select {_literal(partition.partner_account_id)}::varchar as {ACCOUNT_COLUMN}, * from {WORK}.{table}"
    if cycle is None:
        return select
    return f'{select} where "{cycle}" = {_literal(partition.bill_cycle)} or "{cycle}" is null'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# ------------------------------------------------------------------------------------ the data path

def check_data_path(settings: LakeSettings) -> None:
    """Refuse, before anything is written, a data path the lake cannot write its files to."""
    if settings.data_path.startswith("s3://"):
        _check_bucket(settings)
        return
    folder = Path(settings.data_path)
    # the folder or, before the first run, the nearest folder it would be created in: nothing is left behind
    existing = next(path for path in (folder, *folder.parents) if path.exists() or path == Path(path.anchor))
    try:
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".billrecon-probe-"):
            pass
    except OSError as exc:
        raise LakeError(f"the lake's data path {settings.data_path} cannot be written ({exc.strerror or exc}): "
                        "make it a writable folder, or point BILLRECON_LAKE_DATA_PATH at one") from None


def _check_bucket(settings: LakeSettings) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    match = re.fullmatch(r"s3://([^/]+)/?(.*)", settings.data_path)
    if not match:
        raise LakeError(f"the lake's data path {settings.data_path} names no bucket: give s3://bucket/prefix/")
    bucket, prefix = match.group(1), match.group(2)
    s3 = settings.s3
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, aws_access_key_id=s3.access_key,
                          aws_secret_access_key=s3.secret_key, region_name=s3.region,
                          config=Config(retries={"max_attempts": 2}, connect_timeout=10, read_timeout=30))
    probe = f"{prefix.rstrip('/') + '/' if prefix else ''}.billrecon-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        client.put_object(Bucket=bucket, Key=probe, Body=b"")
        client.delete_object(Bucket=bucket, Key=probe)
    except (BotoCoreError, ClientError) as exc:
        raise LakeError(f"the lake's data path {settings.data_path} cannot be written ({exc}): check the bucket, "
                        "BILLRECON_LAKE_S3_ENDPOINT and the keys in BILLRECON_LAKE_S3_ACCESS_KEY / _SECRET_KEY"
                        ) from None


def lake_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why a run could not publish to the lake BILLRECON_WAREHOUSE names, in one line; None when it can
    (or when it names a DuckDB file). Attaches the catalog and writes a probe to the data path."""
    environ = os.environ if environ is None else environ
    if not lakehouse.is_lake(environ.get("BILLRECON_WAREHOUSE", "")):
        return None
    try:
        run_partner_id(environ)
        settings = LakeSettings.from_env(environ)
        check_data_path(settings)  # first: attaching a new lake records its data path in the catalog
        lakehouse.connect(settings).close()
    except (LakeError, PartnersConfigError) as exc:
        return str(exc)
    return None
