"""How a published snapshot is told from a working warehouse (pipelines/lib/publish.py): by the marker
the publish step writes into the snapshot, which names the file it was published at; by where it lies
when it has none (a snapshot of an earlier release); and a snapshot configured as the working file."""

import os
import shutil

import duckdb
import pytest

from pipelines.lib.publish import default_published_path, publish, writing_the_snapshot
from pipelines.lib.warehouse import ensure_schema
from schemas.warehouse_contract import SNAPSHOT_TABLE


def refused(working: str) -> str:
    return (f"is the read-only snapshot published for analysts, not the working warehouse: give --warehouse "
            f"{working} (BILLRECON_WAREHOUSE) instead (the snapshot is replaced by each run)")


@pytest.fixture
def working(tmp_path, monkeypatch):
    """A working warehouse (wh/billrecon.duckdb, relative to the test's folder) and nothing published."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "wh" / "billrecon.duckdb"
    path.parent.mkdir()
    con = duckdb.connect(str(path))
    ensure_schema(con)
    con.close()
    return path


def tables(path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {name for (name,) in con.execute("select schema_name || '.' || table_name from duckdb_tables()")
                .fetchall()}
    finally:
        con.close()


def test_the_snapshot_carries_a_marker_naming_where_it_was_published_and_from_which_working_file(working):
    published = working.parent / "analysts" / "billrecon.duckdb"  # not in a published/ folder: the marker alone
    assert publish(working, published)
    assert SNAPSHOT_TABLE in tables(published) and SNAPSHOT_TABLE not in tables(working)
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute(f"select published_path, working_warehouse from {SNAPSHOT_TABLE}").fetchall() == [
        (str(published), str(working))]
    con.close()
    assert writing_the_snapshot(published, default_published_path(published)) == (
        f"{published} " + refused("wh/billrecon.duckdb"))
    assert writing_the_snapshot(working, published) is None
    assert writing_the_snapshot(working, default_published_path(working)) is None


def test_a_copy_of_the_snapshot_put_back_as_the_working_file_may_be_written(working, tmp_path):
    published = default_published_path(working)
    assert publish(working, published)
    restored = tmp_path / "restored" / "billrecon.duckdb"
    restored.parent.mkdir()
    shutil.copyfile(published, restored)
    assert writing_the_snapshot(restored, default_published_path(restored)) is None
    linked = tmp_path / "restored" / "linked.duckdb"  # the same file under another name is still the snapshot
    os.link(published, linked)
    assert writing_the_snapshot(linked, default_published_path(linked)) == f"{linked} " + refused("wh/billrecon.duckdb")


def test_a_snapshot_without_a_marker_is_known_by_its_published_folder_beside_the_working_file(working):
    published = default_published_path(working)
    published.parent.mkdir()
    shutil.copyfile(working, published)  # what publishing did before the marker
    relative = working.relative_to(working.parents[1]).parent / "published" / "billrecon.duckdb"
    assert writing_the_snapshot(relative, default_published_path(relative)) == (
        "wh/published/billrecon.duckdb " + refused("wh/billrecon.duckdb"))
    working.unlink()  # a published/ folder alone is no sign: nothing beside it is published from
    assert writing_the_snapshot(relative, default_published_path(relative)) is None


def test_a_new_warehouse_where_a_snapshot_belongs_is_refused_too(working):
    published = default_published_path(working)
    assert not published.exists()
    assert writing_the_snapshot(published, default_published_path(published)) == (
        f"{published} " + refused("wh/billrecon.duckdb"))


def test_the_working_file_configured_as_its_own_snapshot_is_refused(working):
    assert writing_the_snapshot(working, working.parent / "." / working.name) == (
        f"{working} is both the working warehouse and the read-only snapshot published for analysts "
        "(BILLRECON_PUBLISHED_WAREHOUSE), which must be two files: give --warehouse (BILLRECON_WAREHOUSE) the "
        f"working file, or unset BILLRECON_PUBLISHED_WAREHOUSE to publish to {working.parent}/published/billrecon.duckdb")
    fresh = working.parent / "new.duckdb"  # not created yet: the same path is the same file
    assert writing_the_snapshot(fresh, fresh).startswith(f"{fresh} is both the working warehouse")


def test_a_warehouse_another_connection_writes_is_no_snapshot(working):
    con = duckdb.connect(str(working))  # the marker cannot be read: only where the file lies tells
    try:
        assert writing_the_snapshot(working, default_published_path(working)) is None
    finally:
        con.close()
