"""Writing report files so that a reader never sees a half-written one.

The nightly run can be killed at any point. Every file is written to a temporary sibling first and
moved into place with ``os.replace`` (atomic on the same file system), so a report is either the
previous complete version or the new complete version.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# How much of a long export is written between two hints to the kernel (see DropBehind).
DROP_BEHIND_WINDOW = 256 << 20

TEMP_TOKEN_BYTES = 8
# `.<final name>.<random hex>.tmp`, as atomic_output_path names them, and nothing else
_TEMP_NAME = re.compile(rf"\..+\.[0-9a-f]{{{2 * TEMP_TOKEN_BYTES}}}\.tmp")


def _temp_path_for(final_path: Path) -> Path:
    return final_path.with_name(f".{final_path.name}.{secrets.token_hex(TEMP_TOKEN_BYTES)}.tmp")


def remove_abandoned_temp_files(root: Path) -> list[Path]:
    """Remove the temporary files that writers killed mid-write left anywhere under `root` (a
    killed month close leaves a copy of its largest CSV). Only for a writer that holds the
    warehouse lease: no other report writer is running then. Returns what was removed."""
    removed = []
    if root.is_dir():
        for folder, _, names in os.walk(root):
            for name in names:
                if _TEMP_NAME.fullmatch(name):
                    path = Path(folder) / name
                    path.unlink(missing_ok=True)
                    removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_output_path(final_path: Path) -> Iterator[Path]:
    """Yield a fresh temporary path next to ``final_path``; on success move it onto ``final_path``.

    On an exception the temporary file is removed and ``final_path`` is left untouched.
    """
    final_path.parent.mkdir(parents=True, exist_ok=True)
    temp_path = _temp_path_for(final_path)
    # Created here with O_EXCL (never reusing someone else's file) and mode 0o666 so the usual
    # umask applies, unlike tempfile.mkstemp which makes the file private to the owner.
    os.close(os.open(temp_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield temp_path
        os.replace(temp_path, final_path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise


class DropBehind:
    """Keeps a long export from filling the page cache: every window of bytes written is handed to
    the kernel's writeback, and the window before it, written back by then, is dropped from memory.

    A ten-million-line month writes gigabytes of CSV that this run never reads again. Left cached,
    every new page of it has to be reclaimed from older cached files first, which costs system time
    (measured in bench/README.md). Only a hint: where ``posix_fadvise`` does not exist nothing
    happens."""

    def __init__(self, handle: BinaryIO, window: int = DROP_BEHIND_WINDOW):
        self._handle = handle
        self._window = window
        self._hinted_from = 0  # start of the window handed to writeback at the last hint
        self._hinted_to = 0

    def wrote(self) -> None:
        """Call after writing; acts once a window's worth was written since it last acted."""
        position = self._handle.tell()
        if position - self._hinted_to < self._window or not hasattr(os, "posix_fadvise"):
            return
        self._handle.flush()
        # DONTNEED starts writeback of dirty pages and drops the clean ones: the older window
        # goes, the newer one is written back and goes at the next hint
        os.posix_fadvise(self._handle.fileno(), self._hinted_from, position - self._hinted_from,
                         os.POSIX_FADV_DONTNEED)
        self._hinted_from, self._hinted_to = self._hinted_to, position


class DropBehindFiles:
    """DropBehind for many small files written one after another (a month's customer bills): each
    is handed to writeback as it is closed, and dropped once a window's worth of later files is."""

    def __init__(self, window: int = DROP_BEHIND_WINDOW):
        self._window = window
        self._recent: list[Path] = []  # closed since the last drop; their writeback has started
        self._recent_bytes = 0
        self._older: list[Path] = []

    def closing(self, handle: BinaryIO, final_path: Path) -> None:
        """Call with a finished file's handle just before closing it; `final_path` is where the
        file will be (it may be renamed into place on closing)."""
        if not hasattr(os, "posix_fadvise"):
            return
        handle.flush()
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        self._recent.append(final_path)
        self._recent_bytes += handle.tell()
        if self._recent_bytes < self._window:
            return
        for path in self._older:
            _drop_cached_pages(path)
        self._older, self._recent, self._recent_bytes = self._recent, [], 0


def _drop_cached_pages(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return  # replaced or removed meanwhile: nothing of ours to drop
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)
