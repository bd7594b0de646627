"""Failures a user can act on, said in one line: the cause and what to do.

A run stops on them without a stack trace on the terminal (the trace goes to the log). Anything
`describe` does not recognise is a bug and is reported as one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

WHERE_TO_POINT = "--warehouse / --reports (BILLRECON_WAREHOUSE / BILLRECON_REPORTS_DIR)"

# OS errors by what the user can do about them; libraries that do not raise OSError (DuckDB,
# polars) still carry the OS's own text, e.g. `Could not write file "x": No space left on device`
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)
_NOT_A_FOLDER = (errno.ENOTDIR, errno.EEXIST, errno.EISDIR)
_TOO_LONG = (errno.ENAMETOOLONG,)
# an over-long path is shown by its start: the line stays one line a terminal can show
_SHOWN_PATH_CHARS = 80
_QUOTED_PATH = re.compile(r"""["']([^"']*/[^"']*)["']""")


class ActionableError(RuntimeError):
    """An expected failure whose message already says the cause and what to do."""


def describe(exc: BaseException, folders: Mapping[str | Path, str] | None = None) -> str | None:
    """The one line for an expected failure anywhere in `exc`'s chain of causes; None for a bug.

    `folders`: the folders the user chose for a command's output, each with the option or variable
    that chose it. A failure on a path in one of them names that option, and is the user's whatever
    its errno (a folder on a file system that takes no files, like /proc's ENOENT); elsewhere only
    the errnos below are, as the same error on a path of the program's own making is a bug."""
    for link in _chain(exc):
        if isinstance(link, ActionableError):
            return str(link)
    for link in _chain(exc):
        code, path, reason = _os_error(link)
        if code is None:
            continue
        chosen = _chosen_by(path, folders or {})
        where = chosen or WHERE_TO_POINT
        written = path or "a file of the warehouse or the reports"
        if code in _NO_SPACE:
            return (f"no space left to write {written} ({reason}): free space on that disk, or point "
                    f"{where} at a disk with room, then run again (every step already committed is whole)")
        if code in _NOT_WRITABLE:
            return (f"cannot write {written} ({reason}): make that folder writable for this user, or point "
                    f"{where} at one that is")
        if code in _NOT_A_FOLDER:
            return (f"cannot use {written} ({reason}): a file stands where a folder is needed, or the reverse; "
                    f"fix the path in {where}")
        if code in _TOO_LONG:
            shown = written if len(written) <= _SHOWN_PATH_CHARS else \
                f"{written[:_SHOWN_PATH_CHARS]}… ({len(written)} characters)"
            return (f"cannot use {shown} ({reason}): the path, or a name in it, is longer than the file system "
                    f"allows; give a shorter one in {where}")
        if chosen is not None and isinstance(link, OSError):
            return f"cannot write {written} ({reason}): point {chosen} at a folder this user can create and write"
    return None


@contextlib.contextmanager
def writing_into(folders: Mapping[str | Path, str]) -> Iterator[None]:
    """Within the block, a failure `describe` recognises, given the user's `folders`, becomes an
    ActionableError with its line (the original stays its cause, with its trace, for the log)."""
    try:
        yield
    except ActionableError:
        raise
    except Exception as exc:
        line = describe(exc, folders)
        if line is None:
            raise
        raise ActionableError(line) from exc


def _chosen_by(path: str | None, folders: Mapping[str | Path, str]) -> str | None:
    """The option or variable of the folder `path` lies on: the folder, a file under it, or a folder
    missing on the way to it (creating /proc/x/y fails on /proc/x); None for any other path."""
    if not isinstance(path, str) or not path:
        return None
    target = Path(os.path.abspath(path))
    for folder, chosen in folders.items():
        folder = Path(os.path.abspath(folder))
        if target == folder or folder in target.parents or (target in folder.parents and not os.path.exists(target)):
            return chosen
    return None


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _os_error(exc: BaseException) -> tuple[int | None, str | None, str | None]:
    if isinstance(exc, OSError) and exc.errno is not None:
        # a copy names its source first and its target second: the target is where the space ran out
        return exc.errno, exc.filename2 or exc.filename, exc.strerror or os.strerror(exc.errno)
    text = str(exc)
    for code in (*_NO_SPACE, *_NOT_WRITABLE, *_NOT_A_FOLDER, *_TOO_LONG):
        if os.strerror(code) in text:
            quoted = _QUOTED_PATH.search(text)
            return code, quoted.group(1) if quoted else None, os.strerror(code)
    return None, None, None
