"""Parent-process side of a measured step: run it in a child process and collect what the OS saw.

Per step the parent records:
- `seconds`: wall time of the step function, measured inside the child around the call only;
- `process_seconds`: wall time of the whole child process (interpreter start-up and imports
  included), measured here;
- `peak_rss_bytes`: the child's peak resident set size (high-water mark) as the kernel accounts
  it, read from `os.wait4` on that child. `wait4` returns the rusage of exactly the child waited
  for, so the figure is per step; `getrusage(RUSAGE_CHILDREN)` would instead give the maximum over
  every child reaped so far and hide a small step behind an earlier big one;
- `cpu_seconds`: user + system CPU time of the child, from the same rusage. Divided by
  `process_seconds` it says how many cores the step kept busy on average.

The child's stdout and stderr go to `<log_dir>/<step>.log`, which is kept for inspection. The
1-minute load average before and after each step is kept too: the machine may be shared, and a
load above the core count means the step's time was stretched by other processes.

A bench stopped half-way (Ctrl-C, or SIGTERM once `stop_on_terminate` is called) stops the children
it started (`children`) and leaves its `with` blocks as usual (the lake bench's PostgreSQL), instead
of leaving them running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import REPO_DIR


@dataclass
class Measurement:
    step: str
    ok: bool
    seconds: float
    process_seconds: float
    peak_rss_bytes: int
    cpu_seconds: float | None = None
    result: dict = field(default_factory=dict)
    error: str | None = None
    log: str | None = None
    load_before: float | None = None
    load_after: float | None = None

    def as_dict(self) -> dict:
        return {
            "step": self.step, "ok": self.ok, "seconds": self.seconds,
            "process_seconds": self.process_seconds, "peak_rss_bytes": self.peak_rss_bytes,
            "cpu_seconds": self.cpu_seconds, "result": self.result, "error": self.error, "log": self.log,
            "load_before": self.load_before, "load_after": self.load_after,
        }


def load_average() -> float | None:
    """The 1-minute load average (runnable processes, all users)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def stop_on_terminate() -> None:
    """Make SIGTERM (a `kill`, a job's timeout) end the bench as Ctrl-C does."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def interrupted_exit(program: str) -> Iterator[None]:
    """An interrupted bench says so in one line and exits with 130, without a traceback."""
    try:
        yield
    except KeyboardInterrupt:
        print(f"{program}: interrupted; the children it had started were stopped", file=sys.stderr)
        sys.exit(130)


# how long children get to end after SIGTERM before they are killed
STOP_GRACE_SECONDS = 20


@contextlib.contextmanager
def children() -> Iterator[list[subprocess.Popen]]:
    """A list for the child processes the block starts; those still running when the block ends by
    an exception (an interruption included) are terminated, then killed after a grace period."""
    started: list[subprocess.Popen] = []
    try:
        yield started
    except BaseException:
        running = [child for child in started if child.returncode is None and child.poll() is None]
        for child in running:
            child.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        raise


def run_step(step: str, args: dict, log_dir: Path, log_name: str | None = None) -> Measurement:
    """Run `bench.child` for `step` with `args` in a fresh interpreter and measure it."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    name = log_name or step
    log_path = log_dir / f"{name}.log"
    result_path = log_dir / f"{name}.result.json"
    result_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.child", step, json.dumps(args), str(result_path)]
    environment = dict(os.environ, PYTHONUNBUFFERED="1")
    load_before = load_average()
    with log_path.open("w", encoding="utf-8") as log, children() as started_children:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO_DIR, stdout=log, stderr=subprocess.STDOUT, env=environment)
        started_children.append(child)
        _, status, usage = os.wait4(child.pid, 0)
        process_seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen consistent
    peak = usage.ru_maxrss * 1024  # Linux reports KiB
    cpu = round(usage.ru_utime + usage.ru_stime, 2)
    loads = {"load_before": load_before, "load_after": load_average()}
    if not result_path.exists():
        return Measurement(step, False, process_seconds, process_seconds, peak, cpu,
                           error=f"child exited with {child.returncode} and no result (see {log_path})",
                           log=str(log_path), **loads)
    outcome = json.loads(result_path.read_text(encoding="utf-8"))
    return Measurement(step, outcome["ok"], outcome["seconds"], process_seconds, peak, cpu,
                       result=outcome.get("result") or {}, error=outcome.get("error"), log=str(log_path),
                       **loads)


@dataclass
class ChildExit:
    """A child process as it ended: its exit code, wall time from its start, and what the OS saw."""

    exit_code: int
    seconds: float
    peak_rss_bytes: int
    cpu_seconds: float


def wait_for_all(started: dict[int, float]) -> dict[int, ChildExit]:
    """Wait for every child in `started` (pid → its `time.perf_counter()` at start), in whatever order
    they end, so each one's wall time stops when it ends; its peak RSS and CPU time come from that
    child's own rusage (`os.wait4`, as `run_step`). Other children of this process are reaped and ignored."""
    ended: dict[int, ChildExit] = {}
    while len(ended) < len(started):
        pid, status, usage = os.wait4(-1, 0)
        if pid not in started:
            continue
        ended[pid] = ChildExit(os.waitstatus_to_exitcode(status), time.perf_counter() - started[pid],
                               usage.ru_maxrss * 1024, round(usage.ru_utime + usage.ru_stime, 2))
    return ended
