"""Where the full story of a failure goes: the terminal gets one line, the log gets the traces."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

LOGS_FOLDER = "logs"

_written: list[Path] = []  # the log this process wrote, once it has


def write_failure_log(warehouse: Path | None, line: str, details: str) -> Path | None:
    """Write the log under `<warehouse folder>/logs/`, or under the system's temporary folder when
    there is no warehouse or its folder cannot be written (a read-only or full disk is one of the
    failures it reports); None when neither can."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"billrecon-{stamp}-{os.getpid()}.log"
    text = "\n".join([f"billrecon {' '.join(sys.argv[1:])}", f"failed: {line}", "", details, ""])
    folders = [Path(tempfile.gettempdir()) / "billrecon-logs"]
    if warehouse is not None:
        folders.insert(0, warehouse.parent / LOGS_FOLDER)
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8")
        except OSError:
            continue
        _written.append(path)
        return path
    return None


def report_failure(warehouse: Path | None, line: str, details: str) -> None:
    """The terminal's one line for a failure, ending with where its log is (written here)."""
    log = write_failure_log(warehouse, line, details)
    where = f"full log: {log}" if log else "no log could be written either"
    print(f"billrecon: {line} ({where})", file=sys.stderr, flush=True)


def report_late_errors_to_the_log() -> None:
    """Errors Python can only report, never raise (say, a file of the failed step whose close fails
    again when it is collected at exit), go to the log once one was written, not to the terminal."""
    sys.unraisablehook = _unraisable


def _unraisable(unraisable) -> None:
    if not _written:
        sys.__unraisablehook__(unraisable)
        return
    text = "".join(traceback.format_exception(unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback))
    try:
        with _written[-1].open("a", encoding="utf-8") as log:
            log.write(f"\n{unraisable.err_msg or 'Exception ignored'}: {unraisable.object!r}\n{text}")
    except OSError:
        pass  # the log's disk is the full one: the one line said what matters
