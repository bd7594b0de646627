"""A bench stopped half-way (SIGTERM, Ctrl-C) stops the children it started and says so in one line
(bench/measure.py), instead of leaving `billrecon run` processes and PostgreSQL running."""

import signal
import subprocess
import sys

from bench.common import REPO_DIR
from tests.processes import is_running

# as bench.run and bench.scale do: SIGTERM handled, each child started inside `children()`
BENCH = """
import os, subprocess, sys
from bench.measure import children, interrupted_exit, stop_on_terminate

stop_on_terminate()
with interrupted_exit("bench.test"):
    with children() as started:
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        started.append(sleeper)
        print(sleeper.pid, flush=True)
        os.wait4(sleeper.pid, 0)
    print("not reached", flush=True)
"""


def test_a_terminated_bench_stops_its_children_and_says_so_in_one_line():
    bench = subprocess.Popen([sys.executable, "-c", BENCH], cwd=REPO_DIR, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    sleeper = int(bench.stdout.readline())
    assert is_running(sleeper)
    bench.send_signal(signal.SIGTERM)
    output, errors = bench.communicate(timeout=60)
    assert bench.returncode == 130
    assert errors == "bench.test: interrupted; the children it had started were stopped\n"
    assert "not reached" not in output
    assert not is_running(sleeper)
