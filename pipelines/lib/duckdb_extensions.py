"""DuckDB extensions loaded from the wheels in requirements.lock, never from the network.

DuckDB would otherwise download an extension the first time a statement needs it; on a machine without
internet access (the nightly run's, CI's) that fails half-way through a run. Each extension ships as a
PyPI wheel holding one file, `<package>/extensions/v<duckdb version>/<name>.duckdb_extension`, built
for exactly one DuckDB version, and `LOAD '<that file>'` loads it without installing anything.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb

# extension -> (wheel on PyPI, its import package, the extension's own name: the file's stem, which LOAD
# checks against the entry point inside). duckdb-extension-postgres ships the same binary as
# postgres.duckdb_extension, which LOAD refuses (its entry point is postgres_scanner's).
WHEELS: dict[str, tuple[str, str, str]] = {
    "ducklake": ("duckdb-extension-ducklake", "duckdb_extension_ducklake", "ducklake"),
    "postgres": ("duckdb-extension-postgres-scanner", "duckdb_extension_postgres_scanner", "postgres_scanner"),
    "httpfs": ("duckdb-extension-httpfs", "duckdb_extension_httpfs", "httpfs"),
}


class ExtensionUnavailable(RuntimeError):
    """An extension's wheel is missing or was built for another DuckDB version."""


def extension_file(name: str) -> Path:
    """The extension file of `name` for the installed DuckDB, from its wheel."""
    if name not in WHEELS:
        raise ExtensionUnavailable(f"no wheel is known for the DuckDB extension {name!r}; known: {', '.join(WHEELS)}")
    wheel, package, stem = WHEELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionUnavailable(
            f"the DuckDB extension {name} is not installed: install {wheel}=={duckdb.__version__} "
            "(requirements.lock pins it; `make .venv/.installed` installs it)")
    root = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    path = root / f"v{duckdb.__version__}" / f"{stem}.duckdb_extension"
    if not path.is_file():
        built_for = sorted(folder.name.lstrip("v") for folder in root.glob("v*")) or ["no version"]
        raise ExtensionUnavailable(
            f"the installed {wheel} is built for DuckDB {', '.join(built_for)}, but DuckDB {duckdb.__version__} "
            f"is installed: install {wheel}=={duckdb.__version__} (requirements.lock pins both)")
    return path


def load_extensions(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Load each named extension (ducklake, postgres, httpfs) into the connection from its wheel.

    Automatic installation and loading are switched off first, so a statement that needs an extension
    not loaded here fails at once with DuckDB's own message instead of trying to download it."""
    con.execute("set autoinstall_known_extensions = false")
    con.execute("set autoload_known_extensions = false")  # nor one installed by hand in ~/.duckdb
    for name in names:
        path = str(extension_file(name)).replace("'", "''")
        con.execute(f"load '{path}'")
