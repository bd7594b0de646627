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
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.lib import audit

ROOT = Path(__file__).resolve().parents[2]
CODE_FOLDERS = ("sql", "reports", "pipelines", "schemas")
# grows with every pull even when nothing changed; what was pulled is in audit.loads (sha256)
_NOT_COUNTED = {("landing", "api_snapshots"), ("audit", "model_builds")}


@functools.cache
def code_version() -> str:
    return files_digest(ROOT, CODE_FOLDERS)


def files_digest(root: Path, folders: tuple[str, ...]) -> str:
    """The names (under `root`) and bytes of every code file in `folders` of `root`."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".sql", ".csv", ".j2", ".css"}:
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def warehouse_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    digest = hashlib.sha256(code_version().encode())
    queries = [
        """select source, sha256, member, bill_cycle, rows_read, rows_loaded, rows_quarantined,
                  findings_count, status, first_error from audit.loads order by all""",
        "select source, object_key, etag, bill_cycle, reason from audit.ignored_objects order by all",
        # a hold released without a new load yet still changes what the pack says
        "select object_key, etag, released_at is null from audit.held_deliveries order by all",
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


@dataclass(frozen=True)
class UpTo:
    """Every load of a source for this bill cycle or an earlier one (a refund's original order may
    have been billed, or pulled from the API, in any earlier cycle)."""

    bill_cycle: str


def loads_fingerprint(con: duckdb.DuckDBPyConnection, sources: dict[str, str | UpTo | None]) -> str:
    """The code and the content identity of the loads of `sources` (source -> bill cycle, UpTo(cycle)
    for that cycle and every earlier one, or None for a source of no cycle such as the agreements):
    what a model built from them depends on."""
    digest = hashlib.sha256(code_version().encode())
    for source, scope in sorted(sources.items()):
        if isinstance(scope, UpTo):
            where, cycle = "bill_cycle <= $cycle", scope.bill_cycle
        else:
            where, cycle = "bill_cycle is not distinct from $cycle", scope
        rows = con.execute(
            f"""select source, sha256, member, bill_cycle, rows_read, rows_loaded, rows_quarantined, status
                from audit.loads where source = $source and {where} order by all""",
            {"source": source, "cycle": cycle}).fetchall()
        digest.update(repr((source, scope, rows)).encode())
    return digest.hexdigest()


def rows_fingerprint(con: duckdb.DuckDBPyConnection, queries: list[tuple[str, dict]]) -> str:
    """The content of the rows the queries (text, parameters) return, each ordered by all of its
    columns: for inputs pulled again on every run, whose loads differ by fetch time even when
    nothing changed."""
    digest = hashlib.sha256()
    for query, parameters in queries:
        digest.update(repr((query, parameters)).encode())
        for row in con.execute(query, parameters).fetchall():
            digest.update(repr(row).encode())
    return digest.hexdigest()


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, sources: dict[str, str | UpTo | None],
                       queries: list[tuple[str, dict]] = ()) -> str:
    """What a model is built from: the code and the loads of `sources` (loads_fingerprint) and, when
    given, the content of the rows `queries` return (rows_fingerprint)."""
    loads = loads_fingerprint(con, sources)
    if not queries:
        return loads
    return hashlib.sha256(f"{loads} {rows_fingerprint(con, list(queries))}".encode()).hexdigest()


def last_build(con: duckdb.DuckDBPyConnection, model: str, bill_cycle: str, fingerprint: str) -> dict | None:
    """What the model reported when it was last built from inputs with this fingerprint, if it was."""
    rows = con.execute(
        "select metadata from audit.model_builds where model = ? and bill_cycle = ? and fingerprint = ?",
        [model, bill_cycle, fingerprint]).fetchall()
    return json.loads(rows[0][0]) if rows else None


def built_cycles(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The bill cycles a run has built, in order: those with a build recorded in audit.model_builds. Every
    run that reaches the models records its cycle's bill-line models (core.rated_bill_line has no check
    that could keep it unrecorded), whether or not the cycle's bill file was delivered; a run that reuses
    the last one's outputs keeps its records. Empty for a file without the table."""
    present = con.execute("select count(*) from duckdb_tables() where database_name = current_database() "
                          "and schema_name = 'audit' and table_name = 'model_builds'").fetchone()[0]
    if not present:
        return []
    return [cycle for (cycle,) in con.execute(
        "select distinct bill_cycle from audit.model_builds order by bill_cycle").fetchall()]


def record_build(con: duckdb.DuckDBPyConnection, model: str, bill_cycle: str, fingerprint: str,
                 metadata: dict) -> None:
    con.execute("delete from audit.model_builds where model = ? and bill_cycle = ?", [model, bill_cycle])
    audit.insert_row(con, "audit.model_builds", {
        "model": model, "bill_cycle": bill_cycle, "fingerprint": fingerprint,
        "metadata": json.dumps(metadata, sort_keys=True), "built_at": datetime.now(UTC)})
