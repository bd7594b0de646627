"""billrecon's whole month close, measured: files → landing → staging → core → marts → reports.

`billrecon_step` runs `pipelines.runner.run_cycle` for the benchmark month in a fresh warehouse,
exactly as `billrecon run --month` does: every asset of the definitions, in process, with the
inbox folder of the cached world as the object store (`ObjectStoreResource(inbox_dir=...)`), the
BSS API not configured (`BssApiResource()`: the parts it feeds are skipped, as in the tests), and
the warehouse's shipped settings (`WarehouseResource` defaults: a 2 GiB memory budget, of which DuckDB
gets 1 GiB, and 2 threads; `BILLRECON_MEMORY_LIMIT` in the environment overrides the budget).

`noop_step` runs the same cycle a second time on the same files and warehouse: what a nightly run
costs when nothing new has arrived (no Dagster step runs then: `run_cycle` finds that nothing is new
since the billrecon step's run and keeps its outputs, so the noop has no per-asset timings).

Both return Dagster's per-asset timings (STEP_START → STEP_SUCCESS events of the run, read back
from an ephemeral instance) and, per asset, the peak resident memory of the process while that
asset ran (VmRSS sampled every 20 ms by a thread; the whole-process peak is measured by the parent
from the OS, see `bench.measure`) and the CPU seconds it used (the process's user + system time,
sampled with it): CPU / wall says how many of the cores an asset kept busy.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import dagster as dg

from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
from pipelines.runner import run_cycle
from schemas.memory import DEFAULT_MEMORY_LIMIT


class RssSampler:
    """Samples this process's resident set size (/proc/self/status VmRSS) and CPU time on a thread."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.samples: list[tuple[float, int, float]] = []  # (time, RSS bytes, CPU seconds so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_bytes() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            times = os.times()
            self.samples.append((time.time(), self.rss_bytes(), times.user + times.system))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak_between(self, start: float, end: float) -> int:
        inside = [rss for at, rss, _ in self.samples if start <= at <= end]
        return max(inside, default=0)

    def cpu_between(self, start: float, end: float) -> float | None:
        """CPU seconds the process used between the samples nearest inside `start` and `end`."""
        inside = [cpu for at, _, cpu in self.samples if start <= at <= end]
        return round(inside[-1] - inside[0], 2) if len(inside) > 1 else None


def resources(world: Path, work: Path) -> dict:
    return {
        "object_store": ObjectStoreResource(inbox_dir=str(world)),
        "warehouse": WarehouseResource(path=str(work / "warehouse" / "billrecon.duckdb"),
                                       memory_limit=os.environ.get("BILLRECON_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)),
        "reports": ReportsResource(out_dir=str(work / "reports")),
        "bss_api": BssApiResource(),
    }


def warehouse_path(work: Path) -> Path:
    return Path(work) / "warehouse" / "billrecon.duckdb"


def _step_profile(instance: dg.DagsterInstance, sampler: RssSampler) -> list[dict]:
    """Per asset (Dagster step): seconds and peak RSS while it ran, in execution order."""
    (run,) = instance.get_runs(limit=1)
    started: dict[str, float] = {}
    steps = []
    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            begin = started.get(event.step_key, entry.timestamp)
            steps.append({
                "asset": event.step_key,
                "ok": event.event_type == dg.DagsterEventType.STEP_SUCCESS,
                "seconds": round(entry.timestamp - begin, 3),
                "peak_rss_bytes": sampler.peak_between(begin, entry.timestamp),
                "cpu_seconds": sampler.cpu_between(begin, entry.timestamp),
            })
    return steps


def _cycle(args: dict, fresh: bool, sampler: RssSampler | None = None) -> dict:
    world, work, cycle = Path(args["world"]), Path(args["work"]), args["bill_cycle"]
    found_previous_files = work.exists()  # of a fresh run: `bench.run` removes them before its time starts
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
    elif not warehouse_path(work).exists():
        raise RuntimeError(f"no warehouse at {warehouse_path(work)}: run the billrecon step first")
    instance = dg.DagsterInstance.ephemeral()
    with sampler or RssSampler() as sampler:
        started = time.perf_counter()
        outcome = run_cycle(cycle, resources(world, work), instance=instance)
        seconds = time.perf_counter() - started
    if not outcome.success:
        raise RuntimeError(f"run_cycle failed: {outcome.failure or ''} {outcome.failed_checks}")
    # a run with nothing new since the last one starts no Dagster run: it has no steps
    steps = [] if outcome.reused is not None else _step_profile(instance, sampler)
    return {
        "run_cycle_seconds": round(seconds, 3),
        "found_previous_files": found_previous_files,
        "reused_run": outcome.reused.run_id if outcome.reused is not None else None,
        # warning checks (findings in the month's data) are results, not a failed run
        "failed_checks": outcome.failed_checks,
        "assets": steps,
        "orchestration_seconds": round(seconds - sum(s["seconds"] for s in steps), 3),
        "warehouse": str(warehouse_path(work)),
        "warehouse_bytes": warehouse_path(work).stat().st_size,
        "reports_bytes": sum(p.stat().st_size for p in (work / "reports").rglob("*") if p.is_file()),
    }


def billrecon_step(args: dict, sampler: RssSampler | None = None) -> dict:
    """Child-process entry: the month close in a fresh warehouse. args = {world, work, bill_cycle}."""
    return _cycle(args, fresh=True, sampler=sampler)


def noop_step(args: dict) -> dict:
    """Child-process entry: the same cycle again on the same warehouse, nothing new delivered."""
    return _cycle(args, fresh=False)
