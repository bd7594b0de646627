"""`billrecon demo` deletes its world folder, warehouse file and landing folder to start again; it
recognises what a demo made and refuses anything else, before anything is deleted (a --world-dir of
"." or a --warehouse naming a partner's real warehouse would otherwise be lost)."""

from __future__ import annotations

import os

import duckdb
import pytest

from billrecon.cli import EXIT_BAD_REQUEST, main
from billrecon.sandbox_commands import WORLD_MARKER
from pipelines.lib.warehouse import connect, ensure_schema

TINY = ["--customers", "2", "--resellers", "0", "--lines", "40", "--months", "1", "--first-month", "2026-10"]


@pytest.fixture
def demo_paths(tmp_path, monkeypatch):
    for name in [name for name in os.environ if name.startswith("BILLRECON_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return {"--warehouse": tmp_path / "wh" / "billrecon.duckdb", "--world-dir": tmp_path / "world",
            "--reports": tmp_path / "reports", "--dagster-home": tmp_path / "dagster"}


def demo(paths: dict) -> list[str]:
    return ["demo", *TINY, *(part for option, path in paths.items() for part in (option, str(path)))]


def refused(capsys, paths: dict) -> str:
    code = main(demo(paths))
    captured = capsys.readouterr()
    assert (code, captured.out) == (EXIT_BAD_REQUEST, ""), captured
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err.rstrip("\n")


def a_warehouse_landed_from(path, source_uri: str) -> bytes:
    con = connect(path)
    ensure_schema(con)
    con.execute("insert into landing.objects (object_key, etag, size_bytes, sha256, last_modified, landed_at, "
                "local_path, source_uri) values ('customerBill/customerBill_202610.tar.gz', 'e1', 10, 'ab', "
                "now(), now(), 'objects/ab/ab', ?)", [source_uri])
    con.close()
    return path.read_bytes()


def test_a_world_folder_with_other_files_is_refused_and_kept(demo_paths, capsys):
    world = demo_paths["--world-dir"]
    (world / "customerBill").mkdir(parents=True)
    (world / "thesis.docx").write_text("years of work")
    assert refused(capsys, demo_paths) == (
        f"billrecon: --world-dir {world} holds files the demo did not write (thesis.docx), and the demo empties its "
        "world folder: give a new or empty folder, or remove that one")
    assert (world / "thesis.docx").read_text() == "years of work"


def test_a_partner_s_warehouse_is_refused_and_unchanged(demo_paths, capsys):
    warehouse = demo_paths["--warehouse"]
    before = a_warehouse_landed_from(warehouse, "s3://acme-partner-bills")
    assert refused(capsys, demo_paths) == (
        f"billrecon: --warehouse {warehouse} holds files landed from s3://acme-partner-bills, not from the demo, and "
        "the demo deletes its warehouse to start again: give the path of a new file, or remove that one yourself if "
        "it may go")
    assert warehouse.read_bytes() == before


def test_a_warehouse_of_the_demo_s_world_run_from_its_folder_is_the_demo_s(demo_paths):
    from billrecon.sandbox_commands import _not_the_demos

    warehouse = demo_paths["--warehouse"]
    a_warehouse_landed_from(warehouse, "file://world")  # `billrecon run --inbox world` after a demo
    assert _not_the_demos(warehouse, demo_paths["--world-dir"]) is None
    assert _not_the_demos(warehouse, demo_paths["--world-dir"].parent / "elsewhere").startswith(
        "holds files landed from file://world, not from the demo")


def test_someone_else_s_duckdb_file_is_refused(demo_paths, capsys):
    warehouse = demo_paths["--warehouse"]
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    con.execute("create table budgets as select 1 as year")
    con.close()
    assert refused(capsys, demo_paths).startswith(
        f"billrecon: --warehouse {warehouse} holds tables a demo did not make (main.budgets), and the demo deletes")
    assert duckdb.connect(str(warehouse)).execute("select count(*) from budgets").fetchone() == (1,)


def test_a_landing_folder_with_other_files_is_refused(demo_paths, capsys):
    landing = demo_paths["--warehouse"].parent / "landing"
    (landing / "objects").mkdir(parents=True)
    (landing / "contracts").mkdir()
    assert refused(capsys, demo_paths) == (
        f"billrecon: {landing}, beside --warehouse {demo_paths['--warehouse']}, holds files the pipeline did not land "
        "(contracts), and the demo empties it: put the demo's warehouse in a folder of its own")
    assert (landing / "contracts").is_dir()


def test_the_demo_replaces_what_it_made_also_an_earlier_release_s_world(demo_paths, capsys):
    assert main(demo(demo_paths)) == 0
    world, warehouse = demo_paths["--world-dir"], demo_paths["--warehouse"]
    assert (world / WORLD_MARKER).is_file()
    (world / WORLD_MARKER).unlink()  # as an earlier release left it: the world's own names only
    (world / "customerBill" / "left-over.tar.gz").write_bytes(b"x")
    assert main(demo(demo_paths)) == 0
    assert (world / WORLD_MARKER).is_file() and not (world / "customerBill" / "left-over.tar.gz").exists()
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select distinct source_uri from landing.objects").fetchall() == [("s3://billrecon-demo",)]
    assert con.execute("select count(distinct bill_cycle) from marts.customer_monthly_expenditure").fetchone() == (1,)
