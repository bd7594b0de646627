"""A Ctrl-C or stop signal that arrives while DuckDB opens the warehouse takes effect once it is open
(pipelines/lib/warehouse.py `_signals_after`), not inside DuckDB's open."""

import os
import signal
import time

import pytest

from pipelines.lib import warehouse


class Stopped(Exception):
    """What the run's own handler raises (Dagster raises its interruption error)."""


def _stop(signum, frame):
    raise Stopped(signum)


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_open_is_raised_after_it_by_the_handler_in_place(number):
    previous = {n: signal.signal(n, _stop) for n in (signal.SIGINT, signal.SIGTERM)}
    opened = []
    try:
        with pytest.raises(Stopped) as stopped:
            with warehouse._signals_after():
                os.kill(os.getpid(), number)
                time.sleep(0.05)  # Python runs a handler here, between two instructions
                opened.append(True)
        assert stopped.value.args == (number,)
        assert opened == [True]
        assert signal.getsignal(signal.SIGINT) is _stop and signal.getsignal(signal.SIGTERM) is _stop
    finally:
        for n, handler in previous.items():
            signal.signal(n, handler)


def test_the_warehouse_opens_whole_when_a_signal_comes_during_its_open(tmp_path, monkeypatch):
    real_connect = warehouse.duckdb.connect

    def connect_then_signal(*args, **kwargs):
        con = real_connect(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # as if it came while DuckDB was opening the file
        time.sleep(0.05)
        return con

    monkeypatch.setattr(warehouse.duckdb, "connect", connect_then_signal)
    previous = signal.signal(signal.SIGINT, _stop)
    try:
        with pytest.raises(Stopped):
            warehouse.connect(tmp_path / "billrecon.duckdb")
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.undo()
    con = warehouse.connect(tmp_path / "billrecon.duckdb")  # the same process opens it again at once
    assert con.execute("select 42").fetchone() == (42,)
    con.close()
