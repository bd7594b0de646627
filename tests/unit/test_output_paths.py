"""Output paths a command cannot use end as one line naming the path and the option (or variable) to
change, exit 2, before anything is written: an empty path (Path("") is the current folder), a file where
a folder is needed, and a folder this user cannot create or write, whatever the OS answers (/proc
answers ENOENT to every new entry). A folder that fails later, while written, is still the user's when
the error names a path in it, and only then."""

import errno
import os
from pathlib import Path

import pytest

from pipelines.lib.failures import ActionableError, describe, writing_into

# /proc refuses new entries with ENOENT (its folders take no new files), whoever asks, root too
PROC = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")


def _raised(action) -> OSError:
    with pytest.raises(OSError) as raised:
        action()
    return raised.value


@PROC
def test_an_error_of_any_errno_on_a_chosen_folder_is_the_user_s_and_elsewhere_a_bug(tmp_path):
    enoent = _raised(lambda: Path("/proc/x/2026-08").mkdir(parents=True))  # names /proc/x, on the way
    assert (enoent.errno, enoent.filename) == (2, "/proc/x")
    line = "cannot write /proc/x (No such file or directory): point --reports at a folder this user can create and write"
    assert describe(enoent, {"/proc/x": "--reports"}) == line
    assert describe(enoent, {Path("/proc/x/y"): "--reports"}) == line  # a folder missing on the way to it
    assert describe(enoent) is None  # no folder chosen: the program's own path, a bug
    assert describe(enoent, {tmp_path: "--out"}) is None
    # inside a chosen folder, too: the user's (the folder went away, or takes no files)
    inside = _raised(lambda: (tmp_path / "gone" / "f.csv").write_text(""))
    assert describe(inside, {tmp_path: "--out"}) == (
        f"cannot write {tmp_path / 'gone' / 'f.csv'} (No such file or directory): point --out at a folder this user "
        "can create and write")
    assert describe(inside, {tmp_path / "elsewhere": "--out"}) is None


def test_the_known_errors_name_the_chosen_option_instead_of_the_warehouse_s(tmp_path):
    (tmp_path / "reports").write_text("not a folder")
    error = _raised(lambda: (tmp_path / "reports" / "2026-09").mkdir(parents=True, exist_ok=True))
    assert describe(error, {tmp_path: "--out"}) == (
        f"cannot use {tmp_path / 'reports' / '2026-09'} (Not a directory): a file stands where a folder is needed, "
        "or the reverse; fix the path in --out")
    assert describe(error).endswith("fix the path in --warehouse / --reports (BILLRECON_WAREHOUSE / "
                                    "BILLRECON_REPORTS_DIR)")


@PROC
def test_writing_into_turns_the_user_s_failure_into_its_line_and_lets_a_bug_through(tmp_path):
    with pytest.raises(ActionableError) as failure:
        with writing_into({"/proc/x": "--out"}):
            os.mkdir("/proc/x")
    assert str(failure.value).startswith("cannot write /proc/x (No such file or directory): point --out at")
    assert isinstance(failure.value.__cause__, FileNotFoundError)  # the trace stays, for the log
    with pytest.raises(FileNotFoundError):
        with writing_into({tmp_path: "--out"}):
            os.mkdir("/proc/x")
    with pytest.raises(KeyError):
        with writing_into({tmp_path: "--out"}):
            raise KeyError("customer_id")


def test_a_folder_that_turns_read_only_during_a_run_is_said_in_one_line():
    # the up-front check refuses a read-only folder; one remounted read-only during a run fails a step
    read_only = OSError(errno.EROFS, os.strerror(errno.EROFS), "reports/2026-08")
    assert describe(read_only) == (
        "cannot write reports/2026-08 (Read-only file system): make that folder writable for this user, or point "
        "--warehouse / --reports (BILLRECON_WAREHOUSE / BILLRECON_REPORTS_DIR) at one that is")
    assert describe(read_only, {"reports": "--reports"}) == (
        "cannot write reports/2026-08 (Read-only file system): make that folder writable for this user, or point "
        "--reports at one that is")
