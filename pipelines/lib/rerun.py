"""Nothing new since the last run of a bill cycle: whether a run would only write again what the last
successful run of the cycle left, decided from facts before any step starts.

The facts, taken when a run starts and recorded with it once it has succeeded (the cycle's row of
model RUN_RECORD in audit.model_builds):

- every object of the file source, with its ETag and size (an inbox file: its inode, size,
  modification and change times instead of a hash of its bytes: see `InboxObjectStore.identities`);
- the settings of the run but its secrets, and the SQL models it was built from;
- the warehouse as the run left it: its content fingerprint (`warehouse_fingerprint`: the code, every
  load, the held deliveries, the rows of every landing, staging and audit table);
- the outputs as the run left them: every file of the cycle's report folder and of the published
  copy's folder (a file a killed writer left there is new: the next run runs and removes it).

The sources are listed before the run: an object that arrives while it runs is new to the next one.
A run with the BSS API configured is never reused: what the API answers is only known by pulling it,
and each pull is kept as that day's snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.lib.fingerprint import files_digest, last_build, record_build, warehouse_fingerprint
from pipelines.lib.object_store import ObjectStore
from pipelines.lib.warehouse import connect, transaction

# the row of audit.model_builds that records a whole run of a cycle
RUN_RECORD = "(run)"


@dataclass(frozen=True)
class RunFacts:
    """What a run of a bill cycle starts from, besides the warehouse, and where it writes."""

    bill_cycle: str
    sources: tuple[tuple[str, str, int], ...]  # (key, identity, size) of every object of the file source
    settings: Mapping[str, object]             # every setting of the run but its secrets
    sql: str                                   # the digest of the SQL models' files
    outputs: tuple[Path, ...]                  # the cycle's report folder and the published copy's folder

    @classmethod
    def gather(cls, bill_cycle: str, store: ObjectStore, settings: Mapping[str, object], sql_dir: Path,
               outputs: tuple[Path, ...]) -> RunFacts:
        return cls(bill_cycle, tuple(store.identities("")), settings,
                   files_digest(sql_dir.parent, (sql_dir.name,)), outputs)


@dataclass(frozen=True)
class ReusedRun:
    """The last successful run of the cycle, whose outputs a run with nothing new keeps."""

    run_id: str
    finished_at: str
    warning_checks: tuple[str, ...]

    def line(self) -> str:
        return f"nothing new since run {self.run_id} ({self.finished_at}): reused its outputs"


def reusable_run(warehouse: Path, facts: RunFacts) -> ReusedRun | None:
    """The last successful run of the cycle when nothing it was made from has changed since."""
    if not warehouse.is_file():
        return None
    con = connect(warehouse, read_only=True)
    try:
        recorded = last_build(con, RUN_RECORD, facts.bill_cycle, run_fingerprint(con, facts))
    finally:
        con.close()
    if recorded is None:
        return None
    return ReusedRun(recorded["run_id"], recorded["finished_at"], tuple(recorded["warning_checks"]))


def record_run(warehouse: Path, facts: RunFacts, run_id: str, warning_checks: tuple[str, ...]) -> None:
    """Record a successful run of the cycle with its facts (taken before it) and what it left."""
    con = connect(warehouse)
    try:
        fingerprint = run_fingerprint(con, facts)
        finished_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        with transaction(con):
            record_build(con, RUN_RECORD, facts.bill_cycle, fingerprint,
                         {"run_id": run_id, "finished_at": finished_at, "warning_checks": list(warning_checks)})
    finally:
        con.close()


def run_fingerprint(con: duckdb.DuckDBPyConnection, facts: RunFacts) -> str:
    digest = hashlib.sha256(json.dumps(
        {"bill_cycle": facts.bill_cycle, "sources": facts.sources, "settings": facts.settings, "sql": facts.sql},
        sort_keys=True, default=str).encode())
    digest.update(warehouse_fingerprint(con).encode())
    for output in facts.outputs:
        digest.update(repr(output_state(output)).encode())
    return digest.hexdigest()


def output_state(path: Path) -> list[tuple]:
    """(path, inode, size, modification time) of the file, or of every file under the folder."""
    if path.is_file():
        return [(str(path), *_stat_identity(str(path)))]
    files = [os.path.join(folder, name) for folder, _, names in os.walk(path) for name in names]
    return sorted((file, *_stat_identity(file)) for file in files) or [(str(path), None)]


def _stat_identity(path: str) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
