"""Writing report files so that a reader never sees a half-written one.

The nightly run can be killed at any point. Every file is written to a temporary sibling first and
moved into place with ``os.replace`` (atomic on the same file system), so a report is either the
previous complete version or the new complete version.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output_path(final_path: Path) -> Iterator[Path]:
    """Yield a fresh temporary path next to ``final_path``; on success move it onto ``final_path``.

    On an exception the temporary file is removed and ``final_path`` is left untouched.
    """
    final_path.parent.mkdir(parents=True, exist_ok=True)
    temp_path = final_path.with_name(f".{final_path.name}.{secrets.token_hex(8)}.tmp")
    # Created here with O_EXCL (never reusing someone else's file) and mode 0o666 so the usual
    # umask applies, unlike tempfile.mkstemp which makes the file private to the owner.
    os.close(os.open(temp_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield temp_path
        os.replace(temp_path, final_path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
