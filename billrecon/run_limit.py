"""`billrecon run`'s time limit.

A close of ten million lines takes minutes; a run still going after hours is stuck (a deadlock, a
read that never returns). Started by a nightly schedule nobody watches, it would hold the warehouse
lease for good, and every later night's run would wait for it and give up. When the limit passes,
the run writes what each of its threads was doing to the log, says so in one line, stops its worker
processes and ends with exit 1, as a killed run ends: the next run of the month sweeps what it left
and finishes the work (docs/architecture.md, crash safety). Runs launched by Dagster have the same
limit from their jobs' `dagster/max_runtime` tag (pipelines/jobs.py).
"""

from __future__ import annotations

import contextlib
import faulthandler
import multiprocessing
import os
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

from billrecon.cli import EXIT_FAILED
from pipelines.jobs import RUN_TIMEOUT_SECONDS

VARIABLE = "BILLRECON_MAX_RUNTIME_SECONDS"
# How long after the limit the last resort ends the process when the watchdog thread itself could not
# run: a thread that holds Python's interpreter lock while it waits (the deadlock the report pack once
# had) blocks every other Python thread, but not faulthandler's, which is plain C.
LAST_RESORT_SECONDS = 60


class BadRunLimit(ValueError):
    """The limit given is no whole number of seconds."""


def max_runtime_seconds(environ: Mapping[str, str]) -> int:
    """The run's limit in seconds: BILLRECON_MAX_RUNTIME_SECONDS (which --max-runtime sets), else the
    Dagster jobs' limit; 0 means none."""
    text = (environ.get(VARIABLE) or "").strip()
    if not text:
        return RUN_TIMEOUT_SECONDS
    if not text.isdigit():
        raise BadRunLimit(f"{VARIABLE}={text!r} is not a whole number of seconds (0: no limit): fix the "
                          "variable (see .env.example) or unset it")
    return int(text)


def describe_seconds(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{value} {unit}" for value, unit in ((hours, "h"), (minutes, "min"), (seconds, "s")) if value]
    return " ".join(parts) or "0 s"


def limit_line(month: str, seconds: int) -> str:
    return (f"{month} stopped: still running after its time limit of {describe_seconds(seconds)} (--max-runtime, "
            f"{VARIABLE}), so it was stuck; it ended as a killed run ends, and the next run of {month} finishes "
            "its work. Run it again; if it stops again, report it with the log (it shows where each thread was)")


@contextlib.contextmanager
def time_limit(month: str, seconds: int, warehouse: Path | None) -> Iterator[None]:
    """End this process with exit 1 if the block is still running after `seconds` (0: no limit)."""
    if seconds <= 0:
        yield
        return
    timer = threading.Timer(seconds, _stop_the_run, args=(month, seconds, warehouse))
    timer.daemon = True
    timer.name = "billrecon-run-limit"
    timer.start()
    # the last resort prints the threads' stacks to the terminal: it fires only when Python itself is
    # blocked (a bug), and the stacks are what its report needs
    last_resort = _arm_last_resort(seconds + LAST_RESORT_SECONDS)
    try:
        yield
    finally:
        if last_resort:
            faulthandler.cancel_dump_traceback_later()
        timer.cancel()


def _arm_last_resort(seconds: int) -> bool:
    try:
        faulthandler.dump_traceback_later(seconds, exit=True, file=sys.stderr)
    except (AttributeError, ValueError, OSError):  # no real stderr (a test's captured one): the timer alone
        return False
    return True


def thread_stacks() -> str:
    """Where each thread of the process is, innermost call last."""
    frames = sys._current_frames()
    sections = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident)
        if frame is None or thread is threading.current_thread():
            continue
        sections.append(f"thread {thread.name} (id {thread.ident}):\n{''.join(traceback.format_stack(frame))}")
    return "\n".join(sections)


def _stop_the_run(month: str, seconds: int, warehouse: Path | None) -> None:
    from billrecon.failure_log import report_failure

    try:
        report_failure(warehouse, limit_line(month, seconds),
                       f"what each thread was doing when the limit passed:\n\n{thread_stacks()}")
        for worker in multiprocessing.active_children():  # the report pack's statement workers
            worker.kill()
    finally:
        os._exit(EXIT_FAILED)
