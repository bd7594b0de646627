"""The warehouse lease: one holder at a time across processes and threads, released by the kernel
when its holder dies, and a lease file removed under a holder is noticed."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from pipelines.lib.lease import LeaseLost, LeaseTimeout, WarehouseLease, hold_lease, lease_path

HOLDER = """
import sys, time
from pipelines.lib.lease import WarehouseLease
WarehouseLease(sys.argv[1]).acquire(5)
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lease of tmp_path/billrecon.duckdb."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "billrecon.duckdb")],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_a_second_process_waits_then_gives_up_naming_the_holder(tmp_path, holder):
    waits = []
    started = time.monotonic()
    with pytest.raises(LeaseTimeout) as refused:
        WarehouseLease(tmp_path / "billrecon.duckdb").acquire(1.0, on_wait=waits.append)
    assert 1.0 <= time.monotonic() - started < 3
    assert [w.pid for w in waits] == [holder.pid]  # told once, with who holds it
    message = str(refused.value)
    assert f"is being written by the run of process {holder.pid} on " in message
    assert "waited 1 s for it (BILLRECON_LEASE_TIMEOUT_SECONDS)" in message
    assert message.endswith("nothing was changed")


def test_the_lease_of_a_killed_holder_is_taken_at_once(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert lease_path(tmp_path / "billrecon.duckdb").exists()  # the stale file stays; its lock went with the process
    lease = WarehouseLease(tmp_path / "billrecon.duckdb")
    started = time.monotonic()
    lease.acquire(0)
    assert time.monotonic() - started < 0.5
    lease.ensure_held()
    lease.release()


def test_a_waiting_run_gets_the_lease_when_the_holder_finishes(tmp_path, holder):
    threading.Timer(0.6, holder.kill).start()
    lease = WarehouseLease(tmp_path / "billrecon.duckdb")
    started = time.monotonic()
    lease.acquire(30)
    assert 0.5 <= time.monotonic() - started < 5
    lease.release()


def test_re_entrant_in_one_thread_exclusive_across_threads(tmp_path):
    warehouse = tmp_path / "billrecon.duckdb"
    other_thread = []

    def take():
        try:
            with hold_lease(warehouse, 0.3):
                other_thread.append("held")
        except LeaseTimeout:
            other_thread.append("timed out")

    with hold_lease(warehouse, 0) as outer, hold_lease(warehouse, 0) as inner:
        assert inner is outer
        thread = threading.Thread(target=take)
        thread.start()
        thread.join()
    assert other_thread == ["timed out"]
    take()  # released by the outer block: free again
    assert other_thread == ["timed out", "held"]


def test_a_removed_lease_file_is_noticed_by_its_holder_and_a_new_one_is_taken(tmp_path):
    warehouse = tmp_path / "billrecon.duckdb"
    first = WarehouseLease(warehouse)
    first.acquire(0)
    os.unlink(lease_path(warehouse))
    with pytest.raises(LeaseLost) as lost:
        first.ensure_held()
    assert f"the lease file {lease_path(warehouse)} was removed while this run held it" in str(lost.value)
    second = WarehouseLease(warehouse)
    second.acquire(0)  # a new file: the lost lease no longer excludes anyone
    second.ensure_held()
    second.release()
    first.release()


def test_a_run_holds_the_lease_throughout_and_stops_at_its_next_step_when_the_file_is_removed(tmp_path):
    import dagster as dg

    from pipelines.resources import WarehouseResource
    from pipelines.runner import failure_line

    warehouse = tmp_path / "billrecon.duckdb"
    seen = {}

    @dg.asset
    def first(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as con:
            con.execute("select 1")
        try:  # another process cannot take the lease while the run is between steps
            WarehouseLease(warehouse.path).acquire(0)
        except LeaseTimeout:
            seen["held"] = True
        os.unlink(lease_path(warehouse.path))

    @dg.asset(deps=[first])
    def second(warehouse: WarehouseResource) -> None:
        with warehouse.connect():
            seen["second wrote"] = True

    result = dg.materialize([first, second], resources={"warehouse": WarehouseResource(path=str(warehouse))},
                            raise_on_error=False)
    assert not result.success and seen == {"held": True}
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key == "second"
    assert failure_line(failure.step_key, failure.event_specific_data.error) == (
        f"the lease file {lease_path(warehouse)} was removed while this run held it, so another run may be writing "
        "the warehouse: this run stopped; run the month again (every step already committed is whole, and the next "
        "run finishes the work)")
    after = WarehouseLease(warehouse)
    after.acquire(0)  # released at the end of the run
    after.release()
