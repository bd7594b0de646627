"""`billrecon run`'s time limit (billrecon/run_limit.py): the value, the one line, and a process that
passes its limit ending with its workers, also when Python itself is blocked."""

import subprocess
import sys
import time

import pytest

from billrecon import cli
from billrecon.run_limit import VARIABLE, BadRunLimit, describe_seconds, limit_line, max_runtime_seconds
from pipelines.jobs import RUN_TIMEOUT_SECONDS
from tests.processes import is_running


def test_the_variable_wins_over_the_dagster_jobs_limit():
    assert max_runtime_seconds({VARIABLE: " 600 "}) == 600
    assert max_runtime_seconds({VARIABLE: "0"}) == 0
    assert max_runtime_seconds({}) == RUN_TIMEOUT_SECONDS == 4 * 3600


@pytest.mark.parametrize("text", ["4h", "-5", "1.5", "soon"])
def test_a_limit_that_is_no_whole_number_of_seconds_is_refused(text):
    with pytest.raises(BadRunLimit) as error:
        max_runtime_seconds({VARIABLE: text})
    assert str(error.value) == (f"{VARIABLE}={text!r} is not a whole number of seconds (0: no limit): fix the "
                                "variable (see .env.example) or unset it")


def test_limits_are_said_in_hours_minutes_and_seconds():
    assert describe_seconds(RUN_TIMEOUT_SECONDS) == "4 h"
    assert describe_seconds(3725) == "1 h 2 min 5 s"
    assert describe_seconds(90) == "1 min 30 s"
    assert describe_seconds(0) == "0 s"


def test_the_command_help_states_the_default_limit():
    run = next(action for action in cli.build_parser()._subparsers._group_actions[0].choices["run"]._actions
               if action.dest == "max_runtime")
    assert f"else {describe_seconds(RUN_TIMEOUT_SECONDS)} as for the Dagster jobs" in run.help


def test_a_negative_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--month", "2026-08", "--max-runtime", "-1"])
    assert exit_.value.code == cli.EXIT_BAD_REQUEST
    assert "argument --max-runtime: -1 is not a whole number of at least 0 (0: no limit)" in capsys.readouterr().err


# A process that passes its limit: its worker (started as the report pack starts its statement
# workers) is stopped with it, the log says where each thread was.
PASSES_ITS_LIMIT = """
import multiprocessing, sys, time
from pathlib import Path
from billrecon import run_limit

if __name__ == "__main__":
    worker = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(120,))
    worker.start()
    print(worker.pid, flush=True)
    with run_limit.time_limit("2026-08", 2, Path(sys.argv[1])):
        time.sleep(120)
    print("not reached", flush=True)
"""

# The last resort: Python's own watchdog thread cannot run while the main thread holds the interpreter
# lock (a regular expression backtracking for minutes never releases it).
BLOCKS_PYTHON = """
import re, sys
from pathlib import Path
from billrecon import run_limit

run_limit.LAST_RESORT_SECONDS = 1
with run_limit.time_limit("2026-08", 1, Path(sys.argv[1])):
    re.match(r"(a+)+$", "a" * 64 + "b")
print("not reached", flush=True)
"""


def test_a_process_past_its_limit_ends_with_exit_1_one_line_a_log_of_its_threads_and_no_worker_left(tmp_path):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", PASSES_ITS_LIMIT, str(tmp_path / "wh" / "billrecon.duckdb")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert time.monotonic() - started < 60
    assert done.returncode == 1
    [worker_pid] = done.stdout.split()
    [log] = (tmp_path / "wh" / "logs").glob("billrecon-*.log")
    assert done.stderr == f"billrecon: {limit_line('2026-08', 2)} (full log: {log})\n"
    text = log.read_text()
    assert f"failed: {limit_line('2026-08', 2)}" in text
    assert 'thread MainThread (id ' in text
    assert 'File "<string>", line 11, in <module>' in text  # the main thread's `time.sleep(120)`
    deadline = time.monotonic() + 10
    while is_running(int(worker_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not is_running(int(worker_pid))


def test_a_process_whose_python_is_blocked_is_still_ended_by_the_last_resort(tmp_path):
    done = subprocess.run([sys.executable, "-c", BLOCKS_PYTHON, str(tmp_path / "billrecon.duckdb")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "not reached" not in done.stdout
    assert done.stderr.startswith("Timeout (0:00:02)!")
    assert 'File "<string>", line 8 in <module>' in done.stderr  # where the main thread was blocked
