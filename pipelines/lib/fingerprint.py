"""A fingerprint of what the warehouse holds, so that a run with nothing new can skip the work whose
result would be the same bytes (re-rendering reports, re-publishing the snapshot).

The marts are derived from the staged deliveries and pulls, the agreements and the code. So the
fingerprint is: the code (sql/, reports/, pipelines/, schemas/), the content identity of every load
(its source, sha256 and counts — never its load id or time), the ignored objects, and the row
count of every landing, staging and audit table (history tables grow with each snapshot date).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
CODE_FOLDERS = ("sql", "reports", "pipelines", "schemas")
# grows with every pull even when nothing changed; what was pulled is in audit.loads (sha256)
_NOT_COUNTED = {("landing", "api_snapshots")}


@functools.cache
def code_version() -> str:
    digest = hashlib.sha256()
    for folder in CODE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".sql", ".j2", ".css"}:
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def warehouse_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    digest = hashlib.sha256(code_version().encode())
    queries = [
        """select source, sha256, member, bill_cycle, rows_read, rows_loaded, rows_quarantined,
                  findings_count, status, first_error from audit.loads order by all""",
        "select source, object_key, etag, bill_cycle, reason from audit.ignored_objects order by all",
    ]
    tables = con.execute(
        """select schema_name, table_name from duckdb_tables()
           where schema_name in ('landing', 'staging', 'audit') order by all"""
    ).fetchall()
    for schema, table in tables:
        if (schema, table) not in _NOT_COUNTED:
            queries.append(f"select '{schema}.{table}', count(*) from {schema}.{table}")
    for query in queries:
        for row in con.execute(query).fetchall():
            digest.update(repr(row).encode())
    return digest.hexdigest()
