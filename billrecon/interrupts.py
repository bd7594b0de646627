"""A command stopped on purpose: Ctrl-C (SIGINT) or a stop signal (SIGTERM, what `kill`, `timeout` and
service managers send).

While a run's steps execute, Dagster turns either signal into an interruption of the step that is
running, whose transaction rolls back. Before and after them SIGTERM would end the process on the
spot, without a word, so a command that runs months hands it to the SIGINT path too. Either way the
command ends with one line and exit status 130: the steps a run finished are kept, and the next run
finishes the work, as after a killed run (docs/architecture.md, crash safety). Which of the two
signals it was cannot be told apart once Dagster handles them, so the line names both.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

# the shell's status for a command ended by SIGINT (128 + 2), whichever signal stopped it
EXIT_INTERRUPTED = 130


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal; its message is the one line for the terminal."""


def interrupted_line(what: str, where: str | None = None) -> str:
    """The one line for `what` (a month's run, the demo) stopped by a signal `where` (in step …)."""
    return (f"{what} interrupted (Ctrl-C or a stop signal){' ' + where if where else ''}: the steps it finished "
            "are kept and nothing half-written is used; run it again to finish")


@contextlib.contextmanager
def stop_signals_as_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM interrupts as SIGINT does (Dagster does the same while a step runs)."""
    def on_terminate(signum, frame) -> None:
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)  # Python's raises KeyboardInterrupt; Dagster's interrupts the run
            return
        raise KeyboardInterrupt  # SIGINT ignored (a background job): a stop signal still stops

    previous = signal.signal(signal.SIGTERM, on_terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
