"""The DuckDB warehouse file: connections, schema bootstrap, transactions."""

from __future__ import annotations

import contextlib
import functools
import re
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from pipelines.lib.failures import ActionableError
from schemas.memory import empty_buffer_pool, process_duckdb_memory_limit
from schemas.scratch import owned_name, remove_abandoned
from schemas.warehouse_contract import TABLES

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
SCHEMAS = ("landing", "staging", "core", "marts", "audit")
# a connection's own folder for what DuckDB spills to disk, in the system's temporary directory
SPILL_PREFIX = "billrecon-spill-"
# DDL of the tables Python writes directly; core and marts are models (see sql_models.py)
DDL_LAYERS = ("landing", "audit", "staging")


@contextlib.contextmanager
def _signals_after() -> Iterator[None]:
    """Ctrl-C and stop signals that arrive while DuckDB opens a file take effect once it is open. An
    interrupt raised inside DuckDB's open (Dagster turns SIGINT and SIGTERM into an exception in the
    running step) once left a run spinning in its next open of the same file, holding the lease."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread runs Python's signal handlers
        return
    received: list[int] = []
    previous = {number: signal.signal(number, lambda signum, _: received.append(signum))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        if received:
            signal.raise_signal(received[0])  # handled by the handler that was in place


def connect(path: str | Path, *, memory_limit: str | None = None, threads: int | None = None,
            read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file; a second writing process gets a clear error, not a corrupt file."""
    from pipelines.lib.lakehouse import is_lake  # the lake module imports this one

    if is_lake(path):
        raise WarehouseIsALake(
            "the warehouse names a DuckLake (ducklake:…), but this reads or writes a DuckDB file: give the "
            "partner's working file (BILLRECON_WORKING_WAREHOUSE, default warehouse/<partner id>/billrecon.duckdb), "
            "or attach the lake read-only to query it (docs/architecture.md)")
    path = Path(path)
    check_warehouse_file(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _signals_after():
            con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        # a damaged file is an IOException too, and its message says "block": test for it first
        if any(sign in str(exc) for sign in UNREADABLE):
            raise NotAWarehouse(unreadable_line(path, exc)) from exc
        if isinstance(exc, duckdb.IOException) and re.search(r"\block\b", str(exc), re.IGNORECASE):
            raise WarehouseBusy(
                f"the warehouse {path} is open for writing by another process; "
                "only one run may write at a time (wait for it, or read the published snapshot)"
            ) from exc
        raise
    # Settings after opening, not as connect config: DuckDB shares one database per file in a process and
    # refuses a second connection whose config differs, and a process has one budget anyway. So a
    # connection of its own (a summary, a report) stays within the process's budget too.
    con.execute(f"set memory_limit = '{memory_limit or process_duckdb_memory_limit()}'")
    # DuckDB draws a progress bar on stdout for a query past two seconds: into a command's one line,
    # a nightly log, or the JSON a reader prints
    con.execute("set enable_progress_bar = false")
    if threads:
        con.execute(f"set threads = {int(threads)}")
    if read_only:  # other processes may read the file at the same time (a writer has it to itself)
        use_own_spill_directory(con)
    return con


class HeldOpen:
    """The warehouse kept open by a run from its first step to its last.

    A step's connection to a file no other connection of the process holds opens the database
    (reading its catalog) and checkpoints it on close: 20–45 ms for each of a run's ~80 steps.
    While this connection holds the file, a step's `connect` joins the open database and its close
    leaves the committed changes in the write-ahead log until DuckDB checkpoints (the WAL passes
    its threshold, `checkpoint`, or `close` here), as a run killed between checkpoints always could.

    An open database also keeps its buffer pool: the blocks the last step read stay cached, up to
    the memory limit, and the next step's own memory comes on top. So when the last open step
    connection closes, the limit is lowered for a moment, which evicts them, then put back.

    No other database of the process may open the same file while this one holds it (a read-only
    connection, or an ATTACH: DuckDB refuses both), so `close` it before handing the file over."""

    def __init__(self, path: str | Path, *, memory_limit: str, threads: int | None = None):
        self._memory_limit = memory_limit
        self._con: duckdb.DuckDBPyConnection | None = connect(path, memory_limit=memory_limit, threads=threads)
        self._steps_open = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """Around a step's connection: the last one open to close empties the buffer pool."""
        with self._lock:
            self._steps_open += 1
        try:
            yield
        finally:
            with self._lock:
                self._steps_open -= 1
                if self._steps_open == 0 and self._con is not None:
                    empty_buffer_pool(self._con, self._memory_limit)

    def close(self) -> None:
        """Checkpoint and close the database (when no step connection is open)."""
        with self._lock:
            con, self._con = self._con, None
        if con is not None:
            con.close()


def use_own_spill_directory(con: duckdb.DuckDBPyConnection) -> None:
    """Let `con` spill to a folder of its own in the system's temporary directory, which DuckDB creates
    on its first spill and removes when the database closes.

    By default DuckDB spills an in-memory database to `.tmp` in the working directory, and a file to
    `<file>.tmp`, under fixed file names: processes spilling there at once overwrote each other's
    blocks and crashed or read garbage (two accounts' runs publishing to the lake; two commands
    reading one warehouse file). Folders left by killed processes are removed here."""
    (current,), = con.execute("select current_setting('temp_directory')").fetchall()
    if Path(current).name.startswith(SPILL_PREFIX):
        return  # another connection of this process to the same file: one database, its folder set
    remove_abandoned(SPILL_PREFIX)
    folder = Path(tempfile.gettempdir()) / owned_name(SPILL_PREFIX)
    con.execute("set temp_directory = '" + str(folder).replace("'", "''") + "'")


def _cause(exc: duckdb.Error) -> str:
    """DuckDB's first line without its error class ("IO Error: ", which 1.5 adds)."""
    return re.sub(r"^[A-Za-z ]*Error: ", "", str(exc).splitlines()[0])


# What DuckDB says of a file that has a DuckDB header but cannot be read: damaged (a checksum that does
# not match, an empty file, a file cut short by a full disk or an interrupted copy), or of another version
UNREADABLE = ("Corrupt database file", "not a valid DuckDB database file", "Could not read enough bytes",
              "version number")


def unreadable_line(path: Path, exc: duckdb.Error) -> str:
    """What to do with a warehouse file DuckDB cannot open: put back a copy, or start again. It was not
    changed (DuckDB stops before writing to it)."""
    what = "was written by another version of DuckDB" if "version number" in str(exc) else "is damaged"
    published = path.parent / "published" / path.name  # the snapshot's default place (the run's setting)
    snapshot = f"the published snapshot {published}" if published.is_file() and published != path else \
        "the published snapshot"
    return (f"the warehouse {path} {what} and cannot be read ({_cause(exc)}); it was not changed: put back a copy "
            f"({snapshot}, as of the last complete run, or a backup), or move it aside and run each month again")


class WarehouseBusy(ActionableError):
    """Another process holds the write lock on the warehouse file."""


class NotAWarehouse(ActionableError):
    """The warehouse path names something that is not a DuckDB database file."""


# A DuckDB database file carries this at DUCKDB_MAGIC_OFFSET (its main header follows a checksum)
DUCKDB_MAGIC = b"DUCK"
DUCKDB_MAGIC_OFFSET = 8


def check_warehouse_file(path: Path) -> None:
    """Refuse a path that is a folder or a file of another kind. DuckDB itself would take a short
    text file for an empty database and write over it."""
    if path.is_dir():
        raise NotAWarehouse(f"the warehouse {path} is a folder, not a DuckDB file: give the path of the "
                            "file (e.g. --warehouse warehouse/billrecon.duckdb)")
    if not path.is_file() or path.stat().st_size == 0:
        return  # created on first use
    with path.open("rb") as handle:
        head = handle.read(DUCKDB_MAGIC_OFFSET + len(DUCKDB_MAGIC))
    if head[DUCKDB_MAGIC_OFFSET:] != DUCKDB_MAGIC:
        raise NotAWarehouse(f"{path} is not a DuckDB warehouse file: check --warehouse (BILLRECON_WAREHOUSE); "
                            "give a new path to start a warehouse there; the file was not changed")

class WarehouseIsALake(ActionableError):
    """A DuckDB file was expected where a DuckLake is named: runs build the month in a working file and
    only publish it to the lake."""


def database_path(con: duckdb.DuckDBPyConnection) -> str | None:
    """The file the connection's current database lives in; None for an in-memory database."""
    (path,), = con.execute("select path from duckdb_databases() where database_name = current_database()"
                           ).fetchall()
    return path or None


class WarehouseOutdated(ActionableError):
    """The warehouse file's tables differ from the ones this version of billrecon writes."""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create what is missing, then check that the tables that exist have the columns this code
    writes: `create table if not exists` leaves a table of an older version as it was, and the run
    would otherwise stop half-way on the first insert that names a new column."""
    _create_schema(con)
    for (schema, table), columns in expected_columns().items():
        widen_decimal_columns(con, f"{schema}.{table}", columns)
    problems = schema_drift(con)
    if problems:
        database = database_path(con) or "(in memory)"
        raise WarehouseOutdated(
            f"the warehouse {database} was built by another version of billrecon: " + "; ".join(problems)
            + ". Rebuild it: move the file aside and run each month again. No row was changed.")
    apply_comments(con)


def _create_schema(con: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    for layer in DDL_LAYERS:
        for ddl in sorted((SQL_DIR / layer).glob("*.sql")):
            con.execute(ddl.read_text(encoding="utf-8"))


@functools.cache
def expected_columns() -> dict[tuple[str, str], dict[str, str]]:
    """(schema, table) -> column -> type, as the DDL files create them (read once per process)."""
    scratch = duckdb.connect(":memory:")
    try:
        _create_schema(scratch)
        return _columns(scratch)
    finally:
        scratch.close()


def _columns(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[str, str]]:
    tables: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, data_type in con.execute(
            """select schema_name, table_name, column_name, data_type from duckdb_columns()
               where database_name = current_database() and schema_name in (select unnest($layers))
               order by schema_name, table_name, column_index""", {"layers": list(DDL_LAYERS)}).fetchall():
        tables.setdefault((schema, table), {})[column] = data_type
    return tables


_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


def widen_decimal_columns(con: duckdb.DuckDBPyConnection, table: str, wanted: dict[str, str]) -> None:
    """Widen in place each DECIMAL column of `table` that `wanted` (column -> type) gives more digits
    at the same scale: lossless, so the rows an earlier version wrote stay as they are, and the sums
    the wider type is there for no longer overflow on insert. Every other difference is left alone."""
    for column, kind in con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = current_database() "
            "and schema_name || '.' || table_name = ?", [table]).fetchall():
        have, want = _DECIMAL.match(kind), _DECIMAL.match(wanted.get(column, ""))
        if have and want and have.group(2) == want.group(2) and int(want.group(1)) > int(have.group(1)):
            con.execute(f'alter table {table} alter column "{column}" set data type {wanted[column]}')


def schema_drift(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What the DDL tables of the warehouse lack or type differently; extra columns are allowed."""
    actual = _columns(con)
    problems = []
    for (schema, table), columns in expected_columns().items():
        problems += column_differences(f"{schema}.{table}", columns, actual.get((schema, table), {}))
    return problems


def column_differences(table: str, wanted: dict[str, str], present: dict[str, str]) -> list[str]:
    """What `table` (its columns `present`, column -> type) lacks or types differently from `wanted`."""
    problems = []
    missing = [name for name in wanted if name not in present]
    retyped = [f"{name} is {present[name]}, expected {kind}" for name, kind in wanted.items()
               if name in present and present[name] != kind]
    if missing:
        problems.append(f"{table} lacks column(s) {', '.join(missing)}")
    if retyped:
        problems.append(f"{table}: {', '.join(retyped)}")
    return problems


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def apply_comments(con: duckdb.DuckDBPyConnection, tables: Iterable[str] | None = None, *,
                   checked_tables: bool = False) -> int:
    """Set `COMMENT ON` the public tables (`schema.table`; all of them when None) and their columns
    from the contract in schemas/warehouse_contract.py, so analysts see it in `duckdb_columns()`.

    Only what exists and differs is written: a rebuilt table has lost its comments, an unchanged one
    costs one catalog query. Returns the number of comments written.

    Tables with a CHECK constraint (audit.loads, audit.held_deliveries) are left out unless
    `checked_tables`: DuckDB 1.5 cannot replay a column comment on such a table from the write-ahead
    log (an internal error that leaves the file unopenable), so after a killed run the working file
    would be lost. They get their comments only in a copy that is checkpointed before anyone opens
    it (the published snapshot, see publish.py)."""
    names = None if tables is None else set(tables)
    checked = set() if checked_tables else {name for (name,) in con.execute(
        """select distinct schema_name || '.' || table_name from duckdb_constraints()
           where database_name = current_database() and constraint_type = 'CHECK'""").fetchall()}
    wanted = [table for table in TABLES if (names is None or table.name in names) and table.name not in checked]
    if not wanted:
        return 0
    objects = {name: (kind, comment) for name, kind, comment in con.execute(
        """select schema_name || '.' || table_name, 'table', comment from duckdb_tables()
           where database_name = current_database()
           union all
           select schema_name || '.' || view_name, 'view', comment from duckdb_views()
           where database_name = current_database() and not internal""").fetchall()}
    columns = {(table, column): comment for table, column, comment in con.execute(
        """select schema_name || '.' || table_name, column_name, comment from duckdb_columns()
           where database_name = current_database() and schema_name in ('marts', 'audit')""").fetchall()}
    statements = []
    for table in wanted:
        if table.name not in objects:
            continue
        kind, comment = objects[table.name]
        if comment != table.comment():
            statements.append(f"comment on {kind} {table.name} is {_sql_text(table.comment())}")
        # a column the contract names but the table lacks is the contract test's business, not the run's
        statements += [f"comment on column {table.name}.{column.name} is {_sql_text(column.note())}"
                       for column in table.columns
                       if (table.name, column.name) in columns and columns[(table.name, column.name)] != column.note()]
    for statement in statements:
        con.execute(statement)
    return len(statements)


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a month is replaced in one transaction, never half-written."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
