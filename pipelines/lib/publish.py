"""Publishing the warehouse for analysts: a read-only copy swapped in by atomic rename.

Analysts open the published file, never the working one, so they never block the nightly run (DuckDB
lets one process write a file and no other open it meanwhile) and never see a half-written month: a
reader that has the old file open keeps reading the old file until it reconnects.

The copy says what it is: its `audit.snapshot` (a table only snapshots have) names the file it was
published at and the working warehouse it copies, so that no command writes it (`writing_the_snapshot`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import duckdb

from pipelines.lib.failures import ActionableError
from pipelines.lib.fingerprint import warehouse_fingerprint
from pipelines.lib.warehouse import apply_comments
from schemas.warehouse_contract import SNAPSHOT_TABLE


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
        # in the kernel (sendfile): a copy through Python's buffers took 2.4 CPU-s per 845 MB
        shutil.copyfile(working, incoming)
        _finish_copy(incoming, working, published)
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


def _finish_copy(copy: Path, working: Path, published: Path) -> None:
    """What only the snapshot holds, written into the copy and checkpointed before it is renamed into
    place (a run killed meanwhile leaves only the copy, which the next run removes): its marker, and
    the comments of the tables the working file cannot carry safely (see apply_comments)."""
    con = duckdb.connect(str(copy))
    try:
        con.execute(f"""create or replace table {SNAPSHOT_TABLE} (
                            published_at timestamptz not null,
                            published_path varchar not null,
                            working_warehouse varchar not null)""")
        con.execute(f"insert into {SNAPSHOT_TABLE} values (now(), ?, ?)",
                    [str(published.absolute()), str(working.absolute())])
        apply_comments(con, checked_tables=True)
        con.execute("checkpoint")
    finally:
        con.close()


PUBLISHED_FOLDER = "published"


def default_published_path(working: Path) -> Path:
    """Where the snapshot of `working` is published unless BILLRECON_PUBLISHED_WAREHOUSE says otherwise."""
    return working.parent / PUBLISHED_FOLDER / working.name


class PublishedSnapshotWritten(ActionableError):
    """A run was given a published snapshot as its working warehouse (see `writing_the_snapshot`)."""


def writing_the_snapshot(warehouse: Path, published: Path) -> str | None:
    """The one line that refuses to write `warehouse` (a command or a run would change it) when it is
    a snapshot published for analysts, or when `published`, where its own snapshot goes, is the file
    itself; None when it may be written.

    A snapshot is known by its marker, which names the file it was published at: a copy put back as
    the working file elsewhere (to restore it) is no longer one. A snapshot of an earlier release has
    no marker; where it lies tells then: a `published/` folder beside a working file of its name."""
    working = _published_from(warehouse)
    if working is None and warehouse.parent.name == PUBLISHED_FOLDER:
        beside = warehouse.parent.parent / warehouse.name
        working = beside if beside.is_file() else None
    if working is not None:
        return (f"{warehouse} is the read-only snapshot published for analysts, not the working warehouse: give "
                f"--warehouse {_shown(working)} (BILLRECON_WAREHOUSE) instead (the snapshot is replaced by each run)")
    if _same_file(warehouse, published):
        return (f"{warehouse} is both the working warehouse and the read-only snapshot published for analysts "
                "(BILLRECON_PUBLISHED_WAREHOUSE), which must be two files: give --warehouse (BILLRECON_WAREHOUSE) "
                f"the working file, or unset BILLRECON_PUBLISHED_WAREHOUSE to publish to "
                f"{default_published_path(warehouse)}")
    return None


def _published_from(path: Path) -> Path | None:
    """The working warehouse of the snapshot at `path` when its marker says it was published at this
    very file; None for any other file (no marker, a copy put elsewhere, a file a run is writing,
    one that cannot be read)."""
    if not path.is_file() or path.with_name(path.name + ".wal").exists():
        return None  # a snapshot is checkpointed before it is renamed into place: it never has a WAL
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:  # e.g. held for writing by a run: a snapshot is never opened for writing
        return None
    try:
        schema, table = SNAPSHOT_TABLE.split(".")
        if not con.execute("select 1 from duckdb_tables() where database_name = current_database() "
                           "and schema_name = ? and table_name = ?", [schema, table]).fetchall():
            return None
        row = con.execute(f"select published_path, working_warehouse from {SNAPSHOT_TABLE} limit 1").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if row is None or not _same_file(path, Path(row[0])):
        return None
    return Path(row[1])


def _same_file(first: Path, second: Path) -> bool:
    with contextlib.suppress(OSError):
        return os.path.samefile(first, second)  # hard links and bind mounts too
    return first.resolve() == second.resolve()  # one of them does not exist (yet)


def _shown(path: Path) -> str:
    """`path` relative to the current folder when it lies below it, as a user would type it."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd())) if path.is_absolute() else str(path)
    return str(path)


def _incoming_name(published: Path, writer: str) -> str:
    return f".{published.name}.{writer}.incoming"


def remove_abandoned_copies(published: Path) -> None:
    """Remove the copies that runs killed while publishing left beside the snapshot (each a whole
    warehouse in size). Call while holding the warehouse lease: no other run is publishing then."""
    if published.parent.is_dir():
        for pattern in (_incoming_name(published, "*"), _incoming_name(published, "*") + ".wal"):
            for abandoned in published.parent.glob(pattern):
                abandoned.unlink(missing_ok=True)
