"""DuckDB's extensions come from the pinned wheels (pipelines/lib/duckdb_extensions.py), never the network."""

import duckdb
import pytest

from pipelines.lib.duckdb_extensions import WHEELS, ExtensionUnavailable, extension_file, load_extensions


def test_each_extension_loads_from_its_wheel_and_works(tmp_path):
    con = duckdb.connect()
    load_extensions(con, "ducklake", "postgres", "httpfs")

    loaded = {name for (name,) in con.execute("select extension_name from duckdb_extensions() where loaded").fetchall()}
    assert {"ducklake", "postgres_scanner", "httpfs"} <= loaded
    assert con.execute("select current_setting('autoinstall_known_extensions'), "
                       "current_setting('autoload_known_extensions')").fetchone() == (False, False)
    # ducklake: a lake with a DuckDB catalog file and a data folder, written and read back
    con.execute(f"attach 'ducklake:{tmp_path / 'catalog.ducklake'}' as lake (data_path '{tmp_path / 'data'}/', "
                "data_inlining_row_limit 0)")
    con.execute("create table lake.t as select 1.25::decimal(20,8) as amount")
    assert con.execute("select amount from lake.t").fetchone()[0] == pytest.approx(1.25)
    assert list((tmp_path / "data").rglob("*.parquet"))
    # postgres and httpfs: their functions and settings exist only once loaded
    assert con.execute("select count(*) from duckdb_functions() where function_name = 'postgres_scan'").fetchone()[0]
    assert con.execute("select current_setting('s3_url_style')").fetchone() is not None
    con.close()


def test_the_extension_files_are_built_for_the_installed_duckdb():
    for name, (_wheel, _package, stem) in WHEELS.items():
        path = extension_file(name)
        assert path.name == f"{stem}.duckdb_extension"
        assert path.parent.name == f"v{duckdb.__version__}"


def test_an_extension_without_a_wheel_is_refused_by_name():
    with pytest.raises(ExtensionUnavailable, match="no wheel is known for the DuckDB extension 'spatial'; "
                                                   "known: ducklake, postgres, httpfs"):
        load_extensions(duckdb.connect(), "spatial")


def test_a_wheel_built_for_another_duckdb_says_which_versions_to_pin(tmp_path, monkeypatch):
    package = tmp_path / "duckdb_extension_old_ducklake"
    (package / "extensions" / "v1.4.4").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "extensions" / "v1.4.4" / "ducklake.duckdb_extension").write_bytes(b"not for this duckdb")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(WHEELS, "ducklake", ("duckdb-extension-ducklake", "duckdb_extension_old_ducklake", "ducklake"))

    with pytest.raises(ExtensionUnavailable) as raised:
        extension_file("ducklake")
    assert str(raised.value) == (
        f"the installed duckdb-extension-ducklake is built for DuckDB 1.4.4, but DuckDB {duckdb.__version__} is "
        f"installed: install duckdb-extension-ducklake=={duckdb.__version__} (requirements.lock pins both)")


def test_a_missing_wheel_says_what_to_install(monkeypatch):
    monkeypatch.setitem(WHEELS, "httpfs", ("duckdb-extension-httpfs", "duckdb_extension_not_installed", "httpfs"))
    with pytest.raises(ExtensionUnavailable, match=r"the DuckDB extension httpfs is not installed: install "
                                                   rf"duckdb-extension-httpfs=={duckdb.__version__} "):
        extension_file("httpfs")


def test_without_loading_a_statement_needing_an_extension_fails_at_once_instead_of_downloading():
    con = duckdb.connect()
    load_extensions(con)  # nothing named: only switches automatic installation off
    with pytest.raises(duckdb.CatalogException, match="it exists in the postgres_scanner extension"):
        con.execute("select * from postgres_scan('host=127.0.0.1 port=1', 'public', 't')")
