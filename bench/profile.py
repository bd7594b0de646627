"""Where billrecon's month close spends its time and memory: `python -m bench.profile --size 1M`.

Two more runs of the billrecon step (a fresh warehouse, `run_cycle` on the cached month), each in a
child process:

1. phases, at full speed: the functions of `PHASES` are wrapped (in the child only; nothing in the
   repository changes) to record when each call starts and ends, while a thread samples the
   resident set size; it prints per phase the wall time, the number of calls and the peak RSS of
   the process during that phase's calls. This says where the memory goes.
2. `cProfile` (skip with `--no-cprofile`), which prints:

- the cumulative time of the functions that make up each phase (inflating members, polars
  parsing, pandera validation, the insert into DuckDB, the SQL models, report rendering, …);
  phases nest (e.g. `parse_member` contains the typing and the pandera validation), so shares do
  not add up to 100 %;
- the top functions by own time.

cProfile slows Python-heavy code (the report writers call a few functions per cell) far more than
code that runs inside polars or DuckDB, so read the shares as "where to look" and take absolute
times from the unprofiled per-asset timings of `bench.run`. The raw profile is kept as
`bench/results/profile-<size>.pstats` (open it with `python -m pstats` or snakeviz).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import inspect
import json
import pstats
import sys
import time
from pathlib import Path

from bench.common import BILL_CYCLE, DEFAULT_CACHE, RESULTS_DIR, parse_size, size_label, work_dir, world_dir

MIB = 1 << 20

# (phase, file the function lives in, function name); a file is matched by its path's ending, a
# folder (ending in "/") by containing it, so a function may move between modules of that folder
PROBES: tuple[tuple[str, str, str], ...] = (
    ("landing: sha256 of inbox objects (listing + landing)", "pipelines/lib/object_store.py", "file_sha256"),
    ("landing: copy into the landing folder", "pipelines/lib/object_store.py", "download"),
    ("staging: whole bill archive", "pipelines/lib/staging/deliveries.py", "stage_bill_delivery"),
    ("staging:   inflate tar members (gzip)", "pipelines/lib/archives.py", "iter_csv_members"),
    ("staging:   parse one member (all of parse_member)", "pipelines/lib/parsing.py", "parse_member"),
    ("staging:     decode UTF-8", "pipelines/lib/", "decode_text"),
    ("staging:     Arrow read_csv + blank→null", "pipelines/lib/", "read_raw_csv"),
    ("staging:     map headers", "pipelines/lib/parsing.py", "map_headers"),
    ("staging:     type columns (regex + casts)", "pipelines/lib/parsing.py", "type_columns"),
    ("staging:     pandera structural model", "pipelines/lib/parsing.py", "split_structural"),
    ("staging:   pandera identities (findings)", "pipelines/lib/findings.py", "bill_line_findings"),
    ("staging:   physical line numbers (csv module)", "pipelines/lib/parsing.py", "physical_line_numbers"),
    ("staging:   insert of the spooled members into staging.bill_line", "pipelines/lib/staging/rows.py",
     "insert_spooled"),
    ("staging:   audit inserts", "pipelines/lib/staging/audit_rows.py", "insert_member_rows"),
    ("staging:   duplicate-line check", "pipelines/lib/staging/duplicates.py", "quarantine_duplicate_lines"),
    ("pandera validate (all models)", "pandera/api/polars/model.py", "validate"),
    ("SQL models (all run_model calls)", "pipelines/lib/sql_models.py", "run_model"),
    ("reports: whole month-close pack", "reports/month_close.py", "render_month_close"),
    ("reports:   aggregated reads for page + summary", "reports/month_close_data.py", "load_month_close_data"),
    ("reports:   the month rated once (scratch Parquet)", "reports/pack_lines.py", "write_rated_lines"),
    ("reports:   its lines cut by customer range (polars)", "reports/pack_lines.py", "cut_by_range"),
    ("reports:   XLSX workbook", "reports/xlsx.py", "write_month_close_workbook"),
    ("reports:     'Customer bills' sheet", "reports/xlsx.py", "_write_customer_bills_sheet"),
    ("reports:     per-cell writer (_write_cell)", "reports/xlsx.py", "_write_cell"),
    ("reports:   mart CSV exports", "reports/csv_export.py", "write_table_csv"),
    ("reports:   one CSV per customer", "reports/csv_export.py", "write_customer_bills"),
    ("reports:     csv_text per field", "reports/csv_export.py", "csv_text"),
    ("reports:   HTML page", "reports/html.py", "write_month_close_html"),
    ("reports:   DuckDB fetchmany of streamed rows", "reports/data.py", "batches"),
    ("publish: warehouse snapshot copy", "pipelines/lib/publish.py", "publish"),
)


def probe_times(stats: pstats.Stats) -> list[tuple[str, float | None, int]]:
    """(phase, cumulative seconds or None when the function was not called, calls)."""
    found = []
    for label, path_end, function in PROBES:
        seconds, calls, hit = 0.0, 0, False
        for (filename, _, name), (_, ncalls, _, cumulative, _) in stats.stats.items():
            path = filename.replace("\\", "/")
            if name == function and (path_end in path if path_end.endswith("/") else path.endswith(path_end)):
                seconds, calls, hit = seconds + cumulative, calls + ncalls, True
        found.append((label, seconds if hit else None, calls))
    return found


def top_own_time(stats: pstats.Stats, count: int = 25) -> list[tuple[str, float, int]]:
    rows = []
    for (filename, line, name), (_, ncalls, own, _, _) in stats.stats.items():
        short = "/".join(Path(filename).parts[-2:]) if filename != "~" else ""
        rows.append((f"{short}:{line}({name})" if short else name, own, ncalls))
    return sorted(rows, key=lambda row: row[1], reverse=True)[:count]


# (phase, module whose global name is looked up at call time, attribute path in it)
PHASES: tuple[tuple[str, str, str], ...] = (
    ("landing: sha256 of an object", "pipelines.lib.landing", "file_sha256"),
    ("landing: sha256 while listing the inbox", "pipelines.lib.object_store", "file_sha256"),
    ("staging: whole bill archive (one transaction)", "pipelines.assets.staging", "stage_bill_delivery"),
    ("staging:   inflate tar members (time in next())", "pipelines.lib.staging.archive", "iter_csv_members"),
    ("staging:   parse_member", "pipelines.lib.staging.members", "parse_member"),
    ("staging:     decode UTF-8", "pipelines.lib.parsing", "decode_text"),
    ("staging:     Arrow read_csv + blank→null", "pipelines.lib.parsing", "read_raw_csv"),
    ("staging:     map headers", "pipelines.lib.parsing", "map_headers"),
    ("staging:     type columns", "pipelines.lib.parsing", "type_columns"),
    ("staging:     pandera structural model", "pipelines.lib.parsing", "split_structural"),
    ("staging:   pandera identities (findings)", "pipelines.lib.staging.datasets", "BILL_DATASET.findings"),
    ("staging:   physical line numbers", "pipelines.lib.staging.members", "physical_line_numbers"),
    ("staging:   insert of the spooled members", "pipelines.lib.staging.archive", "insert_spooled"),
    ("staging:   audit inserts", "pipelines.lib.staging.members", "insert_member_rows"),
    ("staging:   duplicate-line check (SQL window)", "pipelines.lib.staging.archive", "quarantine_duplicate_lines"),
    ("core/marts: SQL models (core assets)", "pipelines.assets.core", "run_model"),
    ("core/marts: SQL models (mart assets)", "pipelines.assets.marts", "run_model"),
    ("reports: render_month_close", "pipelines.assets.reports", "render_month_close"),
    ("reports:   aggregated reads", "reports.month_close", "load_month_close_data"),
    ("reports:   the month rated once (scratch Parquet)", "reports.pack_lines", "write_rated_lines"),
    ("reports:   its lines cut by customer range (polars)", "reports.pack_lines", "cut_by_range"),
    ("reports:   XLSX workbook", "reports.month_close", "write_month_close_workbook"),
    ("reports:     'Customer bills' sheet", "reports.xlsx", "_write_customer_bills_sheet"),
    ("reports:   mart CSV exports", "reports.month_close", "write_table_csv"),
    ("reports:   one CSV per customer", "reports.month_close", "write_customer_bills"),
    ("reports:   statements' sums (workers then render them beside the bills)", "reports.customer_statements",
     "load_statements"),
    ("reports:   journal CSV", "reports.month_close", "write_journal_csv"),
    ("reports:   HTML page", "reports.month_close", "write_month_close_html"),
    ("publish: warehouse snapshot", "pipelines.assets.reports", "publish"),
)


class PhaseRecorder:
    """Wraps functions to record (phase, start, end) of every call; generators per next()."""

    def __init__(self) -> None:
        self.intervals: dict[str, list[tuple[float, float]]] = {}
        self.missing: list[str] = []

    def _record(self, label: str, start: float) -> None:
        self.intervals.setdefault(label, []).append((start, time.time()))

    def wrap(self, label: str, function):
        recorder = self
        if inspect.isgeneratorfunction(function):
            @functools.wraps(function)
            def generator(*args, **kwargs):
                iterator = function(*args, **kwargs)
                while True:
                    start = time.time()
                    try:
                        item = next(iterator)
                    except StopIteration:
                        recorder._record(label, start)
                        return
                    recorder._record(label, start)
                    yield item
            return generator

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.time()
            try:
                return function(*args, **kwargs)
            finally:
                recorder._record(label, start)
        return wrapper

    def install(self) -> None:
        for label, module_name, path in PHASES:
            try:
                owner = importlib.import_module(module_name)
                *parents, name = path.split(".")
                for parent in parents:
                    owner = getattr(owner, parent)
                original = getattr(owner, name)
            except (ImportError, AttributeError):
                self.missing.append(label)
                continue
            object.__setattr__(owner, name, self.wrap(label, original))  # also on frozen dataclasses

    def summary(self, sampler) -> list[dict]:
        rows = []
        for label, _, _ in PHASES:
            intervals = self.intervals.get(label)
            if not intervals:
                rows.append({"phase": label, "seconds": None, "calls": 0, "peak_rss_bytes": None})
                continue
            # calls shorter than the sampling interval have no sample: no figure rather than 0
            peak = max(sampler.peak_between(start, end) for start, end in intervals) or None
            rows.append({"phase": label, "seconds": round(sum(end - start for start, end in intervals), 3),
                         "calls": len(intervals), "peak_rss_bytes": peak})
        return rows


def phases_step(args: dict) -> dict:
    """Child-process entry: the billrecon step with phase timings and memory; args as billrecon's."""
    from bench import pipeline

    recorder = PhaseRecorder()
    recorder.install()
    sampler = pipeline.RssSampler()
    result = pipeline.billrecon_step(args, sampler=sampler)
    result["phases"] = recorder.summary(sampler)
    result["phases_not_found"] = recorder.missing
    return result


def profile_step(args: dict) -> dict:
    """Child-process entry: the billrecon step under cProfile; args as billrecon's plus "pstats"."""
    from bench.pipeline import billrecon_step

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        result = billrecon_step(args)
    finally:
        profiler.disable()
        profiler.dump_stats(args["pstats"])
    return result


def report(pstats_path: Path, total: float | None) -> None:
    stats = pstats.Stats(str(pstats_path))
    total = total or stats.total_tt
    print(f"\nphases (cumulative seconds under cProfile; total profiled run {total:.1f} s)")
    for label, seconds, calls in probe_times(stats):
        shown = "not called" if seconds is None else f"{seconds:9.1f} s {seconds / total:6.1%}  ({calls:,} calls)"
        print(f"  {label:<55} {shown}")
    print("\ntop functions by own time")
    for name, own, calls in top_own_time(stats):
        print(f"  {own:9.1f} s  {calls:>11,}  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1M")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--no-cprofile", action="store_true", help="only the phase timings and memory")
    args = parser.parse_args(argv)
    from bench.measure import run_step

    label = size_label(parse_size(args.size))
    world = world_dir(args.cache, label)
    if not (world / "manifest.json").exists():
        raise SystemExit(f"no cached month for {label}: run `python -m bench.run --sizes {label}` first")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    step_args = {"world": str(world), "work": str(work_dir(args.cache, label, "profile")), "bill_cycle": BILL_CYCLE}
    logs = args.cache / "logs" / label
    print(f"phases of billrecon at {label} (fresh warehouse under {step_args['work']}) …", flush=True)
    measured = run_step("phases", step_args, logs)
    if not measured.ok:
        raise SystemExit(f"run failed: {measured.error} (log: {measured.log})")
    print(f"run: {measured.seconds:.1f} s, peak {measured.peak_rss_bytes / MIB:,.0f} MiB (OS)")
    print(f"\n  {'asset':<48} {'seconds':>9} {'peak RSS':>12}")
    for asset in measured.result["assets"]:
        print(f"  {asset['asset']:<48} {asset['seconds']:>9.2f} {asset['peak_rss_bytes'] / MIB:>8,.0f} MiB")
    print(f"\n  {'phase (nested phases are inside their parent)':<48} {'seconds':>9} {'peak RSS':>12} {'calls':>8}")
    for phase in measured.result["phases"]:
        if phase["seconds"] is None:
            print(f"  {phase['phase']:<48} {'not called':>9}")
            continue
        peak = f"{phase['peak_rss_bytes'] / MIB:>8,.0f} MiB" if phase["peak_rss_bytes"] else f"{'—':>12}"
        print(f"  {phase['phase']:<48} {phase['seconds']:>9.2f} {peak} {phase['calls']:>8,}")
    if measured.result["phases_not_found"]:
        print(f"  (not found in this code: {', '.join(measured.result['phases_not_found'])})")
    (RESULTS_DIR / f"phases-{label}.json").write_text(json.dumps(measured.as_dict(), indent=2, default=str),
                                                      encoding="utf-8")
    if args.no_cprofile:
        return 0

    pstats_path = RESULTS_DIR / f"profile-{label}.pstats"
    print(f"\ncProfile of billrecon at {label} …", flush=True)
    measured = run_step("profile", {**step_args, "pstats": str(pstats_path)}, logs)
    if not measured.ok:
        raise SystemExit(f"profiled run failed: {measured.error} (log: {measured.log})")
    print(f"profiled run: {measured.seconds:.1f} s, peak {measured.peak_rss_bytes / MIB:,.0f} MiB")
    report(pstats_path, measured.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
