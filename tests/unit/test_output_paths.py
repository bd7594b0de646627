"""Output paths a command cannot use end as one line naming the path and the option (or variable) to
change, exit 2, before anything is written: an empty path (Path("") is the current folder), a file where
a folder is needed, and a folder this user cannot create or write, whatever the OS answers (/proc
answers ENOENT to every new entry). A folder that fails later, while written, is still the user's when
the error names a path in it, and only then."""

import errno
import os
import re
import tempfile
from pathlib import Path

import pytest

from billrecon.cli import EXIT_BAD_REQUEST, EXIT_FAILED, main
from billrecon.refusals import UserError, check_folder
from pipelines.lib.failures import ActionableError, describe, writing_into

# /proc (billrecon runs on Linux) refuses new entries with ENOENT (its folders take no new files),
# whoever asks, root too
MONTH = "2026-08"
# what `billrecon run` sets from its options (restored after each test)
RUN_VARIABLES = ("BILLRECON_INBOX_DIR", "BILLRECON_WAREHOUSE", "BILLRECON_REPORTS_DIR", "BILLRECON_MAX_RUNTIME_SECONDS")
CREATE_AND_WRITE = "give the path of a folder this user can create and write"
CREATED_WHEN_MISSING = "give the path of a folder (it is created when missing)"


@pytest.fixture
def cwd(tmp_path, monkeypatch) -> Path:
    """An empty current folder, no BILLRECON_* setting, and the temporary folder (where a log without
    a warehouse goes) inside the test's own."""
    for name in {*RUN_VARIABLES, *(name for name in os.environ if name.startswith("BILLRECON_"))}:
        monkeypatch.setenv(name, "")  # recorded first, so that what the command sets is undone too
        monkeypatch.delenv(name)
    folder = tmp_path / "cwd"
    folder.mkdir()
    (tmp_path / "tmp").mkdir()
    (tmp_path / "inbox").mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return folder


def refused(argv: list[str], capsys) -> str:
    """The one line of a request refused with exit 2 that printed nothing else."""
    code = main(argv)
    captured = capsys.readouterr()
    assert (code, captured.out) == (EXIT_BAD_REQUEST, ""), captured
    assert "Traceback" not in captured.err and "bug" not in captured.err, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def nothing_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


SMALL_WORLD = ["--customers", "1", "--lines", "5", "--months", "1"]


# ---------------------------------------------------------------------------------------------- generate

@pytest.mark.parametrize(("out", "line"), [
    ("/proc/x", "--out /proc/x cannot be created in /proc (No such file or directory)"),
    ("/proc/x/y", "--out /proc/x/y cannot be created in /proc (No such file or directory)"),
    ("/proc/self/x", "--out /proc/self/x cannot be created in /proc/self (No such file or directory)"),
    ("/proc/self", "--out /proc/self cannot be written (No such file or directory)"),
])
def test_generate_into_a_folder_proc_refuses_is_one_line_naming_the_path(cwd, capsys, out, line):
    assert refused(["generate", "--out", out, *SMALL_WORLD], capsys) == f"billrecon: {line}: {CREATE_AND_WRITE}"
    assert nothing_in(cwd) == []


def test_generate_with_an_empty_out_writes_nothing_into_the_current_folder(cwd, capsys):
    assert refused(["generate", "--out", "", *SMALL_WORLD], capsys) == (
        "billrecon: --out is empty: give the path of a folder (it is created when missing)")
    assert nothing_in(cwd) == []


@pytest.mark.parametrize("command", [["generate", "--out"], ["run", "--month", MONTH, "--inbox", ".", "--reports"]],
                         ids=["generate --out", "run --reports"])
def test_a_name_longer_than_the_file_system_takes_is_refused_up_front(cwd, capsys, command):
    too_long = "x" * 300  # Linux file systems take names of up to 255 bytes
    assert refused([*command, too_long, *(SMALL_WORLD if command[0] == "generate" else [])], capsys) == (
        f"billrecon: {command[-1]} {too_long} cannot be created (File name too long): {CREATE_AND_WRITE}")
    assert nothing_in(cwd) == []


def test_generate_below_a_file_says_a_file_stands_there_and_leaves_it(cwd, capsys):
    (cwd / "a-file").write_text("kept")
    assert refused(["generate", "--out", "a-file/world", *SMALL_WORLD], capsys) == (
        f"billrecon: --out a-file/world cannot be created: a-file is a file, not a folder: {CREATED_WHEN_MISSING}")
    assert refused(["generate", "--out", "a-file", *SMALL_WORLD], capsys) == (
        f"billrecon: --out a-file is a file, not a folder: {CREATED_WHEN_MISSING}")
    assert nothing_in(cwd) == ["a-file"] and (cwd / "a-file").read_text() == "kept"


def test_a_folder_that_fails_while_the_world_is_written_names_out_not_the_warehouse(cwd, tmp_path, capsys):
    # the check passes (the folder can be written), then a file stands where the world's folder goes
    (cwd / "world").mkdir()
    (cwd / "world" / "customerBill").write_text("kept")
    assert main(["generate", "--out", "world", *SMALL_WORLD]) == EXIT_FAILED
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and len(captured.err.splitlines()) == 1, captured.err
    match = re.fullmatch(r"billrecon: (.*) \(full log: (\S+)\)\n", captured.err)
    assert match, captured.err
    assert match.group(1) == ("cannot use world/customerBill (File exists): a file stands where a folder is needed, "
                              "or the reverse; fix the path in --out")
    assert Path(match.group(2)).parent == tmp_path / "tmp" / "billrecon-logs"
    assert "FileExistsError" in Path(match.group(2)).read_text()  # the trace went to the log
    assert (cwd / "world" / "customerBill").read_text() == "kept"


# --------------------------------------------------------------------------------------- run and report

def run_argv(cwd: Path, *options: str | None) -> list[str]:
    """`billrecon run` on an inbox outside the current folder; an option given None is left out."""
    arguments = {"--inbox": str(cwd.parent / "inbox"), "--warehouse": "wh/billrecon.duckdb", "--reports": "reports"}
    for name, value in zip(options[::2], options[1::2]):
        if value is None:
            arguments.pop(name)
        else:
            arguments[name] = value
    return ["run", "--month", MONTH, *(item for pair in arguments.items() for item in pair)]


@pytest.mark.parametrize(("options", "settings", "line"), [
    (["--reports", "/proc/x"], {}, "--reports /proc/x cannot be created in /proc (No such file or directory)"),
    (["--reports", None], {"BILLRECON_REPORTS_DIR": "/proc/something"},
     "BILLRECON_REPORTS_DIR /proc/something cannot be created in /proc (No such file or directory)"),
    (["--warehouse", "/proc/x/billrecon.duckdb"], {},
     "the folder of --warehouse /proc/x cannot be created in /proc (No such file or directory)"),
    (["--warehouse", None], {"BILLRECON_WAREHOUSE": "/proc/x/billrecon.duckdb"},
     "the folder of BILLRECON_WAREHOUSE /proc/x cannot be created in /proc (No such file or directory)"),
    ([], {"BILLRECON_LANDING_DIR": "/proc/landing"},
     "BILLRECON_LANDING_DIR /proc/landing cannot be created in /proc (No such file or directory)"),
    ([], {"BILLRECON_PUBLISHED_WAREHOUSE": "/proc/published/billrecon.duckdb"},
     "the folder of BILLRECON_PUBLISHED_WAREHOUSE /proc/published cannot be created in /proc (No such file or "
     "directory)"),
])
def test_run_refuses_a_folder_proc_refuses_before_anything_runs(cwd, capsys, monkeypatch, options, settings, line):
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert refused(run_argv(cwd, *options), capsys) == f"billrecon: {line}: {CREATE_AND_WRITE}"
    assert nothing_in(cwd) == []


@pytest.mark.parametrize(("option", "line"), [
    ("--reports", "--reports is empty: give the path of a folder for the month-close packs, or leave --reports out "
                  "for its default"),
    ("--warehouse", "--warehouse is empty: give the path of the warehouse file, or leave --warehouse out for its "
                    "default"),
    ("--inbox", "--inbox is empty: give the path of the folder the files arrive in"),
])
def test_run_refuses_an_empty_path_instead_of_taking_another_one(cwd, capsys, option, line):
    # before, "" fell back to the variable or the default without a word (for --inbox: to the S3 bucket)
    assert refused(run_argv(cwd, option, ""), capsys) == f"billrecon: {line}"
    assert nothing_in(cwd) == []
    assert "BILLRECON_WAREHOUSE" not in os.environ and "BILLRECON_REPORTS_DIR" not in os.environ


def test_report_refuses_a_folder_proc_refuses_and_an_empty_path(cwd, capsys, monkeypatch):
    report = ["report", "--month", MONTH, "--warehouse", "billrecon.duckdb"]
    assert refused([*report, "--reports", "/proc/x"], capsys) == (
        f"billrecon: --reports /proc/x cannot be created in /proc (No such file or directory): {CREATE_AND_WRITE}")
    monkeypatch.setenv("BILLRECON_REPORTS_DIR", "/proc/x")
    assert refused(report, capsys) == (
        "billrecon: BILLRECON_REPORTS_DIR /proc/x cannot be created in /proc (No such file or directory): "
        f"{CREATE_AND_WRITE}")
    assert refused([*report, "--reports", ""], capsys) == (
        "billrecon: --reports is empty: give the path of a folder for the month-close packs, or leave --reports out "
        "for its default")
    assert refused(["report", "--month", MONTH, "--warehouse", "", "--reports", "reports"], capsys) == (
        "billrecon: --warehouse is empty: give the path of the warehouse file, or leave --warehouse out for its "
        "default")
    assert nothing_in(cwd) == []


def test_accept_refuses_an_empty_warehouse(cwd, capsys):
    assert refused(["accept", "--key", "customerBill/x.zip", "--warehouse", ""], capsys) == (
        "billrecon: --warehouse is empty: give the path of the warehouse file, or leave --warehouse out for its "
        "default")


# ------------------------------------------------------------------------------------------------ export

EXPORT = ["export", "focus", "--month", MONTH, "--view", "partner"]


def test_export_below_a_file_says_a_file_stands_where_a_folder_is_needed(cwd, capsys):
    # /etc/passwd is such a file on any Linux; a file of the test's own says the same
    (cwd / "a-file").write_text("kept")
    assert refused([*EXPORT, "--out", "a-file/p.csv", "--warehouse", "billrecon.duckdb"], capsys) == (
        "billrecon: cannot write a-file/p.csv: a-file is a file, not a folder: give a path in a folder this user can "
        "write")
    assert refused([*EXPORT, "--out", "a-file/sub/p.csv", "--warehouse", "billrecon.duckdb"], capsys) == (
        "billrecon: cannot write a-file/sub/p.csv: a-file/sub does not exist (a-file is a file, not a folder): give "
        "a path in a folder this user can write")
    assert refused([*EXPORT, "--out", "missing/p.csv", "--warehouse", "billrecon.duckdb"], capsys) == (
        "billrecon: cannot write missing/p.csv: missing does not exist: give a path in a folder this user can write")
    assert nothing_in(cwd) == ["a-file"] and (cwd / "a-file").read_text() == "kept"


def test_export_into_proc_and_empty_paths(cwd, capsys):
    assert refused([*EXPORT, "--out", "/proc/p.csv", "--warehouse", "billrecon.duckdb"], capsys) == (
        "billrecon: cannot write /proc/p.csv: /proc cannot be written (No such file or directory): give a path in a "
        "folder this user can write")
    assert refused([*EXPORT, "--out", "", "--warehouse", "billrecon.duckdb"], capsys) == (
        "billrecon: --out is empty: give the path of the file to write, FILE.csv or FILE.parquet")
    assert refused([*EXPORT, "--out", "p.csv", "--warehouse", ""], capsys) == (
        "billrecon: --warehouse is empty: give the path of the warehouse file, or leave --warehouse out for its "
        "default")
    assert nothing_in(cwd) == []


# -------------------------------------------------------------------------------------------------- demo

def test_demo_with_an_empty_world_dir_leaves_the_current_folder_as_it_was(cwd, capsys):
    # the demo empties its world folder first: "" would have been this folder
    (cwd / "kept.txt").write_text("kept")
    for option in ("--world-dir", "--dagster-home"):
        assert refused(["demo", option, "", *SMALL_WORLD], capsys) == (
            f"billrecon: {option} is empty: give the path of a folder, or leave {option} out for its default")
    assert refused(["demo", "--reports", "", *SMALL_WORLD], capsys) == (
        "billrecon: --reports is empty: give the path of a folder for the month-close packs, or leave --reports out "
        "for its default")
    assert refused(["demo", "--lake", "", *SMALL_WORLD], capsys) == (
        "billrecon: --lake is empty: give the path of a folder, or give --lake alone for .demo-lake")
    assert nothing_in(cwd) == ["kept.txt"] and (cwd / "kept.txt").read_text() == "kept"


@pytest.mark.parametrize("option", ["--world-dir", "--dagster-home", "--reports", "--lake"])
def test_demo_refuses_a_folder_proc_refuses(cwd, capsys, option):
    assert refused(["demo", option, "/proc/x", *SMALL_WORLD], capsys) == (
        f"billrecon: {option} /proc/x cannot be created in /proc (No such file or directory): {CREATE_AND_WRITE}")
    assert nothing_in(cwd) == []


# ------------------------------------------------------------------------------- the check and the line

def test_the_check_creates_nothing_and_leaves_nothing(tmp_path):
    check_folder(tmp_path / "new" / "reports", "--reports")
    check_folder(tmp_path, "--reports")
    assert nothing_in(tmp_path) == []


def test_the_check_names_the_option_it_is_given(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(UserError) as refusal:
        check_folder(tmp_path / "f" / "out", "BILLRECON_LANDING_DIR")
    assert str(refusal.value) == (f"BILLRECON_LANDING_DIR {tmp_path / 'f' / 'out'} cannot be created: "
                                  f"{tmp_path / 'f'} is a file, not a folder: {CREATED_WHEN_MISSING}")


def _raised(action) -> OSError:
    with pytest.raises(OSError) as raised:
        action()
    return raised.value


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
