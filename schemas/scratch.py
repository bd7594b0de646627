"""Scratch folders in the system's temporary directory (``TMPDIR``), named after the process that owns them.

A process removes its scratch when it ends normally, also on an error; a process that is killed
(SIGKILL, the OOM killer, a machine that stops) cannot. A pack's copy of a ten-million-line month is about
320 MB, so a nightly schedule would slowly fill the disk. Each folder's name therefore starts
with its owner's process id, and whoever makes a folder of the same kind first removes those whose
owner no longer runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


def owned_name(prefix: str) -> str:
    """A new folder name of the kind `prefix` owned by this process: ``<prefix><pid>-<random>``."""
    return f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:12]}"


def remove_abandoned(prefix: str, base: Path | None = None) -> list[Path]:
    """Remove the folders of the kind `prefix` in `base` (default: TMPDIR) whose owner no longer runs;
    the removed paths. Folders of running processes, and names without an owner, are left alone."""
    removed = []
    for leftover in Path(base or tempfile.gettempdir()).glob(prefix + "*"):
        owner = leftover.name[len(prefix):].split("-", 1)[0]
        if leftover.is_dir() and owner.isdigit() and not _process_exists(int(owner)):
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
    return removed


@contextlib.contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A new folder of the kind `prefix` in TMPDIR, removed on leaving; abandoned ones are removed first."""
    remove_abandoned(prefix)
    folder = Path(tempfile.gettempdir()) / owned_name(prefix)
    folder.mkdir(mode=0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
