"""One writer at a time: a run holds the warehouse lease, an OS lock on a file beside the warehouse,
from its first step to its last.

DuckDB itself lets one process open a file for writing, but a run opens and closes the warehouse
once per asset, so two runs started together would take turns asset by asset and fail half-way.
The lease is an exclusive ``flock`` on ``<warehouse>.lease``: the kernel releases it when the
holder's process ends however it ends, so a lease file left by a killed run is simply taken by
the next one. Readers of the published snapshot never take the lease.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.lib.failures import ActionableError

POLL_SECONDS = 0.2


class LeaseTimeout(ActionableError):
    """The lease was not obtained within the configured time."""


class LeaseLost(ActionableError):
    """The lease file this run locked was removed or replaced while the run held it."""


def lease_path(warehouse: str | Path) -> Path:
    warehouse = Path(warehouse)
    return warehouse.with_name(warehouse.name + ".lease")


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a lease, as its holder wrote it into the lease file."""

    pid: int | None
    host: str | None
    since: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "another run"
        return f"the run of process {self.pid} on {self.host} (since {self.since})"


def read_holder(path: Path) -> Holder:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return Holder(None, None, None)  # being written, or never written: only the message suffers


class WarehouseLease:
    """The exclusive lease on one warehouse file, held through an open file descriptor."""

    def __init__(self, warehouse: str | Path):
        self.warehouse = Path(warehouse)
        self.path = lease_path(self.warehouse)
        self._fd: int | None = None

    def acquire(self, timeout_seconds: float, on_wait: Callable[[Holder], None] | None = None) -> None:
        """Take the lease, waiting up to `timeout_seconds` for the run that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout_seconds
        waited = False
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = read_holder(self.path)
                if not waited and on_wait is not None:
                    on_wait(holder)
                waited = True
                if time.monotonic() >= deadline:
                    raise LeaseTimeout(
                        f"the warehouse {self.warehouse} is being written by {holder.describe()}, and this run "
                        f"waited {timeout_seconds:g} s for it (BILLRECON_LEASE_TIMEOUT_SECONDS): run again once "
                        "that run has finished, or allow a longer wait; nothing was changed") from None
                time.sleep(POLL_SECONDS)
                continue
            if not _is_file_at(fd, self.path):
                # removed or replaced between our open and our lock: the lease is the file now at the path
                os.close(fd)
                continue
            self._fd = fd
            self._write_holder()
            return

    def _write_holder(self) -> None:
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": datetime.now(UTC).isoformat(timespec="seconds")}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, record, 0)

    def ensure_held(self) -> None:
        """Raise LeaseLost when the lease file was removed or replaced: another run may have taken a
        new one, so this run must not write on."""
        if self._fd is None or not _is_file_at(self._fd, self.path):
            raise LeaseLost(
                f"the lease file {self.path} was removed while this run held it, so another run may be "
                "writing the warehouse: this run stopped; run the month again (every step already "
                "committed is whole, and the next run finishes the work)")

    def release(self) -> None:
        """The file stays: unlinking it could let a waiter lock the old file while a newcomer locks a
        new one. Closing the descriptor releases the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _is_file_at(fd: int, path: Path) -> bool:
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)


# Leases this process holds, per warehouse and thread: the command that starts a run holds the
# lease, and the run's warehouse resource finds it held instead of waiting on itself (two flocks of
# one file exclude each other even in one process).
_held: dict[tuple[Path, int], tuple[WarehouseLease, int]] = {}
_held_guard = threading.Lock()


@contextlib.contextmanager
def hold_lease(warehouse: str | Path, timeout_seconds: float,
               on_wait: Callable[[Holder], None] | None = None) -> Iterator[WarehouseLease]:
    """Hold the warehouse's lease for the block; re-entrant within one thread."""
    key = (Path(os.path.abspath(warehouse)), threading.get_ident())
    with _held_guard:
        lease, depth = _held.get(key, (None, 0))
    if lease is None:
        lease = WarehouseLease(warehouse)
        lease.acquire(timeout_seconds, on_wait)
    with _held_guard:
        _held[key] = (lease, depth + 1)
    try:
        yield lease
    finally:
        with _held_guard:
            lease, depth = _held.pop(key)
            if depth > 1:
                _held[key] = (lease, depth - 1)
        if depth == 1:
            lease.release()
