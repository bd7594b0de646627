"""Landing: fetch objects that are new or whose ETag changed, keep a content-addressed copy, and
record every version in landing.objects (a re-delivery adds a row, it never replaces one).

A key's current delivery is the version its source holds now. That is the newest landed row, and so a
version landed before that comes back (a file put back after a bad re-delivery, an original uploaded
again) lands again: its row's landed_at moves to now, and the months read it again."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.lib import audit
from pipelines.lib.object_keys import bill_file_key, parse_usage_key, usage_export_prefix
from pipelines.lib.object_store import ObjectStore, file_sha256
from pipelines.lib.warehouse import transaction
from schemas.bill_cycle import BillCycle


@dataclass(frozen=True)
class Delivery:
    object_key: str
    etag: str
    size_bytes: int
    sha256: str
    local_path: Path
    landed_at: datetime
    newly_landed: bool


def land(con: duckdb.DuckDBPyConnection, store: ObjectStore, prefix: str, landing_dir: Path) -> list[Delivery]:
    """Land every object under `prefix`; returns the current delivery of each key, new ones flagged."""
    landing_dir.mkdir(parents=True, exist_ok=True)
    for stale in landing_dir.glob(".incoming-*"):
        stale.unlink()  # left by a run that was killed mid-download; one writer at a time, so never live
    deliveries = []
    for info in store.list(prefix):
        known = con.execute(
            "select sha256, local_path, landed_at, size_bytes from landing.objects where object_key = ? and etag = ?",
            [info.key, info.etag],
        ).fetchone()
        if known and (landing_dir / known[1]).exists():
            delivery = Delivery(info.key, info.etag, known[3], known[0], landing_dir / known[1], known[2],
                                newly_landed=False)
        else:
            delivery = _fetch(con, store, info, landing_dir, record=known is None)
        if known and _newest_etag(con, info.key) != info.etag:
            delivery = _land_again(con, delivery, info.last_modified)
        deliveries.append(delivery)
    return deliveries


def _newest_etag(con: duckdb.DuckDBPyConnection, object_key: str) -> str | None:
    row = con.execute("select etag from landing.objects where object_key = ? order by landed_at desc limit 1",
                      [object_key]).fetchone()
    return row[0] if row else None


def _land_again(con: duckdb.DuckDBPyConnection, delivery: Delivery, last_modified: datetime | None) -> Delivery:
    """A version of the key landed before, delivered again after another: it is the current one now."""
    landed_at = datetime.now(UTC)
    con.execute("update landing.objects set landed_at = ?, last_modified = ? where object_key = ? and etag = ?",
                [landed_at, last_modified, delivery.object_key, delivery.etag])
    return dataclasses.replace(delivery, landed_at=landed_at, newly_landed=True)


def _fetch(con, store: ObjectStore, info, landing_dir: Path, record: bool) -> Delivery:
    tmp_fd, tmp_name = tempfile.mkstemp(dir=landing_dir, prefix=".incoming-")
    os.close(tmp_fd)
    tmp = Path(tmp_name)
    try:
        store.download(info.key, tmp)
        sha256 = file_sha256(tmp)
        final = landing_dir / "objects" / sha256[:2] / sha256
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)  # atomic: a crash leaves either no copy or a whole one
    finally:
        tmp.unlink(missing_ok=True)
    landed_at = datetime.now(UTC)
    size = final.stat().st_size
    if record:
        con.execute(
            "insert into landing.objects values (?, ?, ?, ?, ?, ?, ?, ?)",
            [info.key, info.etag, size, sha256, info.last_modified, landed_at,
             final.relative_to(landing_dir).as_posix(), store.uri],
        )
    else:
        landed_at = con.execute(
            "select landed_at from landing.objects where object_key = ? and etag = ?", [info.key, info.etag]
        ).fetchone()[0]
    return Delivery(info.key, info.etag, size, sha256, final, landed_at, newly_landed=record)


def current_delivery(con: duckdb.DuckDBPyConnection, object_key: str, landing_dir: Path) -> Delivery | None:
    """The newest landed delivery of a key (a re-delivery replaces the earlier one)."""
    row = con.execute(
        """select object_key, etag, size_bytes, sha256, local_path, landed_at from landing.objects
           where object_key = ? order by landed_at desc limit 1""",
        [object_key],
    ).fetchone()
    if row is None:
        return None
    return Delivery(row[0], row[1], row[2], row[3], landing_dir / row[4], row[5], newly_landed=False)


def record_ignored_bill_objects(con: duckdb.DuckDBPyConnection, listing: list, bill_cycle: BillCycle) -> list[dict]:
    """Objects under customerBill/ that name this month but are not its monthly file: recorded, not loaded.

    HUAWEI CLOUD delivers one key per month; a second key with the month's name is a manual copy or a
    misfiled upload, and loading it too would count the month twice."""
    return record_ignored_monthly_copies(con, "customerBill", listing, bill_file_key(bill_cycle), bill_cycle,
                                         "monthly bill file")


def record_ignored_monthly_copies(con: duckdb.DuckDBPyConnection, source: str, listing: list, monthly_key: str,
                                  bill_cycle: BillCycle, what: str) -> list[dict]:
    """Objects of a folder (`listing`) whose name holds the month (`_YYYYMM`) but that are not the month's
    one file, `monthly_key` (the `what` of the reason): recorded for the month, not loaded."""
    canonical = [o for o in listing if o.key == monthly_key]
    others = [o for o in listing if o.key != monthly_key and f"_{bill_cycle.compact}" in o.key.rsplit("/", 1)[-1]]
    reason = f"not the {what} name; the month is read from {monthly_key} only"
    return record_ignored_objects(con, source, bill_cycle, [_ignored(info, canonical, reason) for info in others])


def record_ignored_usage_objects(con: duckdb.DuckDBPyConnection, listing: list, bill_cycle: BillCycle) -> list[dict]:
    """Objects under the month's usage-export prefix whose key is no daily export of the month
    (a `.part` upload, a copy, a date that does not exist): recorded, not loaded."""
    exports = [o for o in listing if (parse_usage_key(o.key) or (None,))[0] == bill_cycle]
    others = [o for o in listing if o not in exports and o.key.startswith(usage_export_prefix(bill_cycle))]
    reason = (f"not a daily usage export name ({usage_export_prefix(bill_cycle)}YYYYMMDD.tar.gz); "
              "the month's usage is read from those only")
    return record_ignored_objects(con, "customerUsage", bill_cycle, [_ignored(o, exports, reason) for o in others])


def record_ignored_agreement_objects(con: duckdb.DuckDBPyConnection, listing: list,
                                     agreement_keys: tuple[str, ...]) -> list[dict]:
    """Objects under agreements/ that are none of the agreement files read (`agreement_keys`; a misspelt
    name, a backup copy): recorded, not loaded, so a file meant to apply is not silently missed."""
    files = [o for o in listing if o.key in agreement_keys]
    reason = f"not an agreement file billrecon reads ({', '.join(agreement_keys)}); not loaded"
    return record_ignored_objects(con, "agreements", None,
                                  [_ignored(info, files, reason) for info in listing if info not in files])


def record_ignored_objects(con: duckdb.DuckDBPyConnection, source: str, bill_cycle: BillCycle | None,
                           ignored: list[dict]) -> list[dict]:
    """Replace the source's list of objects ignored for the cycle (or, without one, for the source) in
    audit.ignored_objects with `ignored`."""
    cycle = str(bill_cycle) if bill_cycle is not None else None
    with transaction(con):
        con.execute("delete from audit.ignored_objects where source = ? and bill_cycle is not distinct from ?",
                    [source, cycle])
        audit.insert_rows(con, "audit.ignored_objects",
                          [{"source": source, **item, "bill_cycle": cycle} for item in ignored])
    return ignored


def _ignored(info, deliveries: list, reason: str) -> dict:
    """The audit.ignored_objects fields of an object that is not loaded: a copy of a delivery is named as
    such (its content is counted once, from the delivery), any other object gets `reason`."""
    same = next((d.key for d in deliveries if d.etag == info.etag), None)
    if same is not None:
        reason = f"same content as {same} under another key; counted once, from {same}"
    return {"object_key": info.key, "etag": info.etag, "size_bytes": info.size, "reason": reason}
