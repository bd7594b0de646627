"""A real PostgreSQL server on 127.0.0.1, for tests and local trials of the DuckLake catalog: `initdb` +
`pg_ctl` on a free port, in a temporary folder stopped and deleted afterwards, or in a folder that is
kept (`billrecon demo --lake`), which `start_line()` starts again later.

The binaries are the machine's PostgreSQL (/usr/lib/postgresql/<version>/bin, the newest present) or,
where the machine has none, the ones bundled in the `pgserver` wheel of requirements-test.lock;
`BILLRECON_POSTGRES_BIN` names another folder. PostgreSQL refuses to run as root, so as root the
cluster belongs to the unprivileged user `nobody` and every server command runs as that user; binaries
`nobody` cannot run where they are (a virtual environment under a root-only folder) are copied into
the cluster's folder, and a cluster folder `nobody` cannot enter is refused in one line.

The server trusts every connection (no password) and listens on 127.0.0.1 only, without a Unix socket.
It is a disposable test server: `fsync` is off, so its data does not survive a crash of the machine
(a killed client or server process is another matter: PostgreSQL's own recovery still applies).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

BIN_VARIABLE = "BILLRECON_POSTGRES_BIN"
SUPERUSER = "postgres"
_UNPRIVILEGED_USER = "nobody"
_REQUIRED = ("initdb", "pg_ctl", "postgres", "psql")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries were found, or the server did not start."""


def find_bin_dir() -> Path:
    """Where initdb, pg_ctl, postgres and psql are: BILLRECON_POSTGRES_BIN, else the machine's newest
    /usr/lib/postgresql/<version>/bin, else the pgserver wheel's bundled binaries."""
    configured = os.environ.get(BIN_VARIABLE)
    candidates = [Path(configured)] if configured else [*machine_bin_dirs(), *bundled_bin_dirs()]
    for folder in candidates:
        if all((folder / program).is_file() for program in _REQUIRED):
            return folder
    where = f"{BIN_VARIABLE}={configured}" if configured else "/usr/lib/postgresql/*/bin or the pgserver wheel"
    raise PostgresUnavailable(
        f"no PostgreSQL binaries (initdb, pg_ctl, postgres, psql) in {where}: install the pinned pgserver "
        f"wheel (requirements-test.lock) or the machine's postgresql package, or set {BIN_VARIABLE} to their folder")


def machine_bin_dirs() -> list[Path]:
    """The machine's PostgreSQL installations (Debian layout), newest first."""
    folders = [path for path in Path("/usr/lib/postgresql").glob("*/bin") if path.parent.name.isdigit()]
    return sorted(folders, key=lambda path: int(path.parent.name), reverse=True)


def bundled_bin_dirs() -> list[Path]:
    """The binaries inside the pgserver wheel (found without importing it: only its files are used)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class LocalPostgresServer:
    """PostgreSQL on 127.0.0.1 at a free port, its cluster in a temporary folder removed by stop(), or
    in `folder` (a new, empty or missing one), which stop() leaves in place.

    Use as a context manager or start()/stop(). `conninfo(database)` is the libpq connection string
    DuckDB's postgres and ducklake extensions take."""

    def __init__(self, host: str = "127.0.0.1", bin_dir: Path | None = None, folder: Path | None = None):
        self.host = host
        self.bin_dir = Path(bin_dir) if bin_dir else None
        self.port: int | None = None
        self._kept = Path(folder).resolve() if folder else None
        self._root: Path | None = None
        self._run_as: pwd.struct_passwd | None = None
        self._options = ""

    @property
    def data_dir(self) -> Path:
        if self._root is None:
            raise RuntimeError("the server is not running; call start() first")
        return self._root / "data"

    def conninfo(self, database: str = "postgres") -> str:
        if self.port is None:
            raise RuntimeError("the server is not running; call start() first")
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={database}"

    def start(self) -> LocalPostgresServer:
        if self.port is not None:
            return self
        self.bin_dir = self.bin_dir or find_bin_dir()
        if self._kept:
            self._kept.mkdir(parents=True, exist_ok=True)
            self._root = self._kept
        else:
            self._root = Path(tempfile.mkdtemp(prefix="billrecon-postgres-"))
        if os.geteuid() == 0:
            self._run_as = pwd.getpwnam(_UNPRIVILEGED_USER)
            os.chmod(self._root, 0o755)  # mkdtemp makes it root-only; the server's user must reach data/
            os.chown(self._root, self._run_as.pw_uid, self._run_as.pw_gid)
        try:
            if self._run_as:
                self._check_reachable_root()
                self.bin_dir = self._reachable_bin_dir(self.bin_dir)
            self._server_command("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
                                 "--encoding=UTF8", "--locale=C", "--no-sync")
            for _attempt in range(3):  # another process may take the free port between probe and bind
                port = free_port(self.host)
                options = (f"-c listen_addresses={self.host} -c port={port} -c unix_socket_directories='' "
                           "-c fsync=off -c full_page_writes=off -c max_connections=200")
                started = self._server_command("pg_ctl", "start", "-D", str(self.data_dir), "-w", "-t", "60",
                                               "-l", str(self._root / "server.log"), "-o", options, check=False)
                if started.returncode == 0:
                    self.port, self._options = port, options
                    return self
            raise PostgresUnavailable(f"PostgreSQL did not start; its log: {self.log_tail()}")
        except BaseException:
            self._remove()
            raise

    def stop(self) -> None:
        if self._root is None:
            return
        if self.port is not None:
            stopped = self._server_command("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w",
                                           "-t", "30", check=False)
            if stopped.returncode != 0:
                self._server_command("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w",
                                     check=False)
        self.port = None
        self._remove()

    def start_line(self) -> str:
        """The shell line that starts this cluster again, on the same port, once stop() has stopped it
        (a kept folder): pg_ctl of the same binaries, as the same user."""
        if self.port is None:
            raise RuntimeError("the server is not running; call start() first")
        # the options in double quotes as pg_ctl's own examples write them (shlex would escape their '')
        return (self._pg_ctl_line("start", "-D", str(self.data_dir), "-w", "-l", str(self._root / "server.log"))
                + f' -o "{self._options}"')

    def stop_line(self) -> str:
        """The shell line that stops the cluster `start_line()` started."""
        return self._pg_ctl_line("stop", "-D", str(self.data_dir), "-m", "fast")

    def _pg_ctl_line(self, *args: str) -> str:
        command = [str(self.bin_dir / "pg_ctl"), *args]
        if self._run_as:
            command = ["runuser", "-u", self._run_as.pw_name, "--", *command]
        return shlex.join(command)

    def create_database(self, name: str) -> str:
        """Create database `name`; returns its connection string."""
        self.psql(f'create database "{name}"')
        return self.conninfo(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` with psql; returns its unaligned, tuples-only output (fields split by |)."""
        result = subprocess.run(
            [str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
             self.conninfo(database), "-c", sql], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def log_tail(self, lines: int = 20) -> str:
        log = self._root / "server.log" if self._root else None
        if not log or not log.exists():
            return "(no log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def _server_command(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        # output to files, not pipes: the server pg_ctl starts inherits them and would keep a pipe open
        with tempfile.TemporaryFile("w+") as output:
            result = subprocess.run(
                [str(self.bin_dir / program), *args], stdout=output, stderr=subprocess.STDOUT, text=True,
                stdin=subprocess.DEVNULL, cwd=self._root, timeout=120,
                user=self._run_as.pw_uid if self._run_as else None,
                group=self._run_as.pw_gid if self._run_as else None,
                extra_groups=[] if self._run_as else None)
            output.seek(0)
            text = output.read()
        if check and result.returncode != 0:
            raise PostgresUnavailable(f"{program} failed: {text.strip()[-2000:]}")
        return result

    def _check_reachable_root(self) -> None:
        """As root, the server's user must enter every folder down to the cluster's: one line if it cannot."""
        blocked = _blocking_folder(self._root, self._run_as)
        if blocked is None:
            return
        action = ("give a folder every user may enter, such as one under /tmp" if self._kept
                  else "set TMPDIR to a folder every user may enter, such as /tmp")
        raise PostgresUnavailable(
            f"PostgreSQL runs as '{self._run_as.pw_name}' when started by root, and '{self._run_as.pw_name}' cannot "
            f"enter {blocked} (mode {stat.S_IMODE(blocked.stat().st_mode):o}) on the way to the cluster folder "
            f"{self._root}: {action}")

    def _reachable_bin_dir(self, bin_dir: Path) -> Path:
        """`bin_dir`, or a copy of its installation in the cluster's folder when the server's user cannot run
        it there (the pgserver wheel in a virtual environment under a root-only folder, such as a clone
        made in `mktemp -d`)."""
        if self._runs_as_server_user(bin_dir):
            return bin_dir
        copied = _copy_installation(bin_dir, self._root / "postgresql")
        if not self._runs_as_server_user(copied):
            raise PostgresUnavailable(
                f"user '{self._run_as.pw_name}', who runs PostgreSQL when started by root, cannot run {bin_dir} "
                f"nor a copy of it in {copied}: set {BIN_VARIABLE} to PostgreSQL binaries every user may run")
        return copied

    def _runs_as_server_user(self, bin_dir: Path) -> bool:
        """Whether the server's user can run initdb from `bin_dir` (reach it, and load its libraries)."""
        try:
            result = subprocess.run([str(bin_dir / "initdb"), "--version"], capture_output=True,
                                    stdin=subprocess.DEVNULL, timeout=60, user=self._run_as.pw_uid,
                                    group=self._run_as.pw_gid, extra_groups=[])
        except OSError:  # PermissionError: a folder on the way is closed to the user
            return False
        return result.returncode == 0

    def _remove(self) -> None:
        if self._root is not None and self._root != self._kept:
            shutil.rmtree(self._root, ignore_errors=True)
        self._root = None

    def __enter__(self) -> LocalPostgresServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _blocking_folder(path: Path, user: pwd.struct_passwd) -> Path | None:
    """The first folder from / down to `path` (included) that `user` may not enter, by the owner, group
    and other execute bits (access control lists are not read); None when every one lets it through."""
    path = path.resolve()
    for folder in [*reversed(path.parents), path]:
        status = folder.stat()
        bit = (stat.S_IXUSR if status.st_uid == user.pw_uid
               else stat.S_IXGRP if status.st_gid == user.pw_gid else stat.S_IXOTH)
        if not status.st_mode & bit:
            return folder
    return None


def _copy_installation(bin_dir: Path, target: Path) -> Path:
    """Copy the installation `bin_dir` belongs to (its parent: bin, lib, share) into `target`, open to every
    user; returns the copy's bin folder. The copy keeps the name of the installation's parent folder
    and takes along a `<parent>.libs` folder beside that parent, so the libraries the binaries find by
    a path relative to themselves (the pgserver wheel's `$ORIGIN/../../../pgserver.libs`) are there too."""
    installation = bin_dir.parent
    base = installation.parent.parent
    copied = target / installation.relative_to(base)
    shutil.copytree(installation, copied, symlinks=True, dirs_exist_ok=True)
    libs = base / f"{installation.parent.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, target / libs.name, symlinks=True, dirs_exist_ok=True)
    for folder, _, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | (0o555 if path.stat().st_mode & stat.S_IXUSR else 0o444))
    return copied / bin_dir.name
