"""Immutable JSON snapshots of API pulls, recorded in landing.api_snapshots.

A pull is written only once it is complete: to a temporary file in the target folder, then renamed
into place (atomic on one file system) and made read-only; only then is its row added. A crash
leaves at most a stray temporary file (swept by the next write) or a file without a row, which is
never current. The current snapshot of a dataset is the newest row, so a pull that fails leaves the
previous snapshot current.

The file holds the request (route, parameters, scopes, page size: never a credential), the fetch
times, the record count and the records as JSON, amounts written as decimal strings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.bss.client import Site
from pipelines.lib.bss.datasets import ApiDataset, Pulled
from pipelines.lib.warehouse import transaction
from schemas.bill_cycle import GMT8

SNAPSHOT_FORMAT = 1


@dataclass(frozen=True)
class Snapshot:
    path: str                 # relative to the landing folder
    dataset: str
    bill_cycle: str | None
    snapshot_date: dt.date
    fetched_at: dt.datetime
    record_count: int
    sha256: str


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # exact, and never exponent notation ("0E-8")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} into a snapshot")


def snapshot_document(pulled: Pulled, started_at: dt.datetime, fetched_at: dt.datetime,
                      requests: int, retries: int, site: Site = "intl") -> dict[str, Any]:
    operation = pulled.dataset.operation
    return {
        "format": SNAPSHOT_FORMAT,
        "dataset": pulled.dataset.name,
        "route": pulled.dataset.route,
        "sdk_method": f"{operation.sdk_on(site)}.{operation.method}",
        "bill_cycle": pulled.bill_cycle,
        "request": pulled.request,
        "started_at": _utc_text(started_at),
        "fetched_at": _utc_text(fetched_at),
        "pages": pulled.pages,
        "requests": requests,
        "retries": retries,
        "record_count": len(pulled.records),
        "records": pulled.records,
    }


def save_snapshot(con: duckdb.DuckDBPyConnection, landing_dir: Path, pulled: Pulled, *, started_at: dt.datetime,
                  fetched_at: dt.datetime, requests: int, retries: int, load_id: str, site: Site = "intl") -> Snapshot:
    """Write the pull's file, then record it (one transaction): from here on it is the current snapshot.
    `site` is the account's, whose SDK made the calls."""
    document = snapshot_document(pulled, started_at, fetched_at, requests, retries, site)
    data = json.dumps(document, default=_json_default, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sha256 = hashlib.sha256(data).hexdigest()
    relative = f"api/{pulled.dataset.name}/{fetched_at:%Y%m%dT%H%M%S%fZ}_{sha256[:16]}.json"
    _write_once(landing_dir / relative, data)
    snapshot = Snapshot(relative, pulled.dataset.name, pulled.bill_cycle, fetched_at.astimezone(GMT8).date(),
                        fetched_at, len(pulled.records), sha256)
    with transaction(con):
        con.execute(
            "insert into landing.api_snapshots values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [relative, pulled.dataset.name, pulled.dataset.route, pulled.bill_cycle, snapshot.snapshot_date,
             started_at, fetched_at, len(pulled.records), pulled.pages, requests, retries, sha256,
             json.dumps(pulled.request, default=_json_default, sort_keys=True), load_id],
        )
    return snapshot


def _write_once(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(".incoming-*"):
        stale.unlink()  # left by a run killed mid-write; one writer at a time, so never live
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o444)  # snapshots are never changed once written
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def current_snapshot(con: duckdb.DuckDBPyConnection, dataset: ApiDataset, bill_cycle: str | None) -> Snapshot | None:
    """The newest complete pull of the dataset (of the cycle, for cycle-bound datasets)."""
    rows = _snapshots(con, "dataset = ? and bill_cycle is not distinct from ?", [dataset.name, bill_cycle], limit=1)
    return rows[0] if rows else None


def newest_per_snapshot_date(con: duckdb.DuckDBPyConnection, dataset: ApiDataset) -> list[Snapshot]:
    """For history datasets: the newest pull of each snapshot date, oldest date first."""
    rows = con.execute(
        """select snapshot_path from (
               select snapshot_path, snapshot_date,
                      row_number() over (partition by snapshot_date
                                         order by fetched_at desc, snapshot_path desc) as rank
               from landing.api_snapshots where dataset = ?)
           where rank = 1 order by snapshot_date""", [dataset.name]).fetchall()
    return [_snapshots(con, "snapshot_path = ?", [row[0]], limit=1)[0] for row in rows]


def snapshot_paths_of_date(con: duckdb.DuckDBPyConnection, dataset: ApiDataset, snapshot_date: dt.date) -> list[str]:
    return [r[0] for r in con.execute(
        "select snapshot_path from landing.api_snapshots where dataset = ? and snapshot_date = ?",
        [dataset.name, snapshot_date]).fetchall()]


def _snapshots(con, where: str, params: list, limit: int) -> list[Snapshot]:
    rows = con.execute(
        f"""select snapshot_path, dataset, bill_cycle, snapshot_date, fetched_at, record_count, sha256
            from landing.api_snapshots where {where}
            order by fetched_at desc, snapshot_path desc limit {int(limit)}""", params).fetchall()
    return [Snapshot(*row) for row in rows]


def read_snapshot(landing_dir: Path, snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot's document; refuses a file whose content no longer matches its recorded hash."""
    data = (landing_dir / snapshot.path).read_bytes()
    if hashlib.sha256(data).hexdigest() != snapshot.sha256:
        raise ValueError(f"{snapshot.path} does not match its recorded sha256; the landing copy was altered")
    return json.loads(data, parse_float=Decimal)


def _utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
