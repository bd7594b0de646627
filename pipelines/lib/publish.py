"""Publishing the warehouse for analysts: a read-only copy swapped in by atomic rename.

Analysts open the published file, never the working one, so they never block the nightly run (DuckDB
lets one process write a file and no other open it meanwhile) and never see a half-written month: a
reader that has the old file open keeps reading the old file until it reconnects.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from pipelines.lib.fingerprint import warehouse_fingerprint
from pipelines.lib.warehouse import apply_comments


def publish(working: Path, published: Path) -> bool:
    """Copy the working warehouse (with the contract's comments, after a checkpoint) to `published`, atomically.

    Returns False when the published copy already holds the same data (same fingerprint): a
    nightly run with nothing new does not copy a large file for nothing."""
    con = duckdb.connect(str(working))
    try:
        apply_comments(con)  # analysts read the contract in the snapshot's catalog
        con.execute("checkpoint")  # every committed change into the file, nothing left in the WAL
        fingerprint = warehouse_fingerprint(con)
    finally:
        con.close()
    stamp = published.with_name(published.name + ".fingerprint")
    if published.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == fingerprint:
        return False
    published.parent.mkdir(parents=True, exist_ok=True)
    incoming = published.with_name(_incoming_name(published, str(os.getpid())))
    try:
        with working.open("rb") as source, incoming.open("wb") as target:
            shutil.copyfileobj(source, target, length=16 << 20)
        _comment_checked_tables(incoming)
        with incoming.open("rb+") as target:
            os.fsync(target.fileno())
        incoming.chmod(0o444)
        os.replace(incoming, published)  # readers see the old file or the new one, never a mix
    finally:
        incoming.unlink(missing_ok=True)
        incoming.with_name(incoming.name + ".wal").unlink(missing_ok=True)
    directory = os.open(published.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
    stamp.write_text(fingerprint, encoding="utf-8")  # after the swap: a crash here only costs a copy
    return True


def _comment_checked_tables(copy: Path) -> None:
    """The comments of the tables the working file cannot carry safely (see apply_comments), written
    into the copy and checkpointed before it is renamed into place: a run killed meanwhile leaves only
    the copy, which the next run removes."""
    con = duckdb.connect(str(copy))
    try:
        apply_comments(con, checked_tables=True)
        con.execute("checkpoint")
    finally:
        con.close()


def _incoming_name(published: Path, writer: str) -> str:
    return f".{published.name}.{writer}.incoming"


def remove_abandoned_copies(published: Path) -> None:
    """Remove the copies that runs killed while publishing left beside the snapshot (each a whole
    warehouse in size). Call while holding the warehouse lease: no other run is publishing then."""
    if published.parent.is_dir():
        for pattern in (_incoming_name(published, "*"), _incoming_name(published, "*") + ".wal"):
            for abandoned in published.parent.glob(pattern):
                abandoned.unlink(missing_ok=True)
