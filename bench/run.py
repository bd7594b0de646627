"""`make bench` / `python -m bench.run`: how billrecon's month close scales, against a floor and pandas.

For each size (default 1 M, 3 M and 10 M bill lines) the month is generated once with the
sandbox generator into the cache (`bench/.cache/worlds/<size>/`, reused while its spec is
unchanged), then these steps run on the same files, each in its own child process:

- `floor`: DuckDB's own `read_csv` loads the archive's members into a typed table (`bench.floor`);
- `billrecon`: the whole month close, files → marts → reports, in a fresh warehouse (`bench.pipeline`);
- `noop`: the same cycle again on the same warehouse with nothing new (the nightly case);
- `pandas`: a plain pandas build of marts.customer_monthly_expenditure (`bench.pandas_mart`).

Per step: wall time of the work (imports excluded), rows per second (bill lines of the month /
that time), and peak resident memory of the step's process as the OS accounts it (`bench.measure`).
When both billrecon and pandas ran on a size, the two marts are compared row by row and the run
fails (exit 1) unless amount due, customer charge and margin agree to the last of 8 decimals.

It prints a table, the ratios billrecon/floor and pandas/billrecon, and PASS/FAIL against the
targets of issue 6; it never fails on a missed target. Figures go to `bench/results/latest.json`.

Options: `--sizes 1M,3M,10M`, `--only floor,billrecon,noop,pandas`, `--cache DIR`,
`--regenerate` (rebuild cached months), `--merge` (keep the figures of an earlier latest.json for
what this run does not measure, e.g. to add the 10 M month to a 1 M + 3 M run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from bench.common import (
    BILL_CYCLE,
    DEFAULT_CACHE,
    DEFAULT_SIZES,
    REPO_DIR,
    RESULTS_DIR,
    WorldSpec,
    parse_size,
    size_label,
    work_dir,
    world_dir,
)
from bench.generate import world_is_current
from bench.measure import run_step

STEPS = ("floor", "billrecon", "noop", "pandas")
GIB = 1 << 30
MIB = 1 << 20

# issue 6 targets
FLOOR_FACTOR = 1.5          # billrecon ≤ 1.5 × floor at 10 M
PANDAS_FACTOR = 10.0        # pandas ≥ 10 × slower than billrecon
MEMORY_LIMIT = 3 * GIB      # billrecon peak ≤ 3 GiB at 10 M
TIME_SCALING = 11.0         # time at 10 M within 11 × the time at 1 M
NOOP_SECONDS = 10.0         # a nightly run with nothing new under 10 s


def log(message: str) -> None:
    print(message, flush=True)


# ------------------------------------------------------------------------------------------------
# running


def ensure_world(cache: Path, lines: int, regenerate: bool) -> dict:
    """The cached month of `lines` lines, generated in a child process when missing or stale."""
    label = size_label(lines)
    directory = world_dir(cache, label)
    spec = WorldSpec(lines=lines)
    if not regenerate and world_is_current(directory, spec):
        return {"manifest": json.loads((directory / "manifest.json").read_text(encoding="utf-8")),
                "generated": None}
    log(f"[{label}] generating the month (once; cached in {directory}) …")
    measured = run_step("generate", {"lines": lines, "out": str(directory)}, cache / "logs", f"generate-{label}")
    if not measured.ok:
        raise SystemExit(f"[{label}] generation failed: {measured.error} (log: {measured.log})")
    log(f"[{label}]   {measured.result['bill_lines']:,} lines in {measured.seconds:.0f} s, "
        f"peak {measured.peak_rss_bytes / GIB:.1f} GiB")
    return {"manifest": measured.result, "generated": measured.as_dict()}


def step_args(step: str, cache: Path, label: str) -> dict:
    world = str(world_dir(cache, label))
    if step == "floor":
        return {"world": world, "work": str(work_dir(cache, label, "floor"))}
    if step in ("billrecon", "noop"):
        return {"world": world, "work": str(work_dir(cache, label, "billrecon")), "bill_cycle": BILL_CYCLE}
    if step == "pandas":
        return {"world": world, "out": str(work_dir(cache, label, "pandas") / "customer_monthly_expenditure.parquet")}
    raise ValueError(step)


def run_size(cache: Path, lines: int, steps: list[str], regenerate: bool) -> dict:
    label = size_label(lines)
    world = ensure_world(cache, lines, regenerate)
    bill_lines = world["manifest"]["bill_lines"]
    entry = {"lines": lines, "bill_lines": bill_lines, "world": world, "steps": {}}
    logs = cache / "logs" / label
    for step in steps:
        log(f"[{label}] {step} …")
        measured = run_step(step, step_args(step, cache, label), logs)
        entry["steps"][step] = measured.as_dict()
        if measured.ok:
            log(f"[{label}]   {step}: {measured.seconds:.1f} s, {bill_lines / measured.seconds:,.0f} rows/s, "
                f"peak {measured.peak_rss_bytes / MIB:,.0f} MiB")
        else:
            log(f"[{label}]   {step} FAILED: {measured.error} (log: {measured.log})")
    billrecon, pandas = entry["steps"].get("billrecon"), entry["steps"].get("pandas")
    warehouse = work_dir(cache, label, "billrecon") / "warehouse" / "billrecon.duckdb"
    parquet = Path(step_args("pandas", cache, label)["out"])
    if billrecon and pandas and billrecon["ok"] and pandas["ok"] and warehouse.exists() and parquet.exists():
        verified = run_step("verify", {"pandas_mart": str(parquet), "warehouse": str(warehouse),
                                       "bill_cycle": BILL_CYCLE}, logs)
        entry["verification"] = verified.result if verified.ok else {"equal": False, "error": verified.error}
        log(f"[{label}] pandas mart vs billrecon mart: "
            + ("identical" if entry["verification"].get("equal") else f"DIFFERENT {entry['verification']}"))
    return entry


# ------------------------------------------------------------------------------------------------
# reporting


def step_figures(entry: dict, step: str) -> dict | None:
    measured = entry["steps"].get(step)
    if not measured or not measured["ok"]:
        return None
    return {"seconds": measured["seconds"], "rows_per_second": entry["bill_lines"] / measured["seconds"],
            "peak_rss_bytes": measured["peak_rss_bytes"], "process_seconds": measured["process_seconds"],
            "cpu_seconds": measured.get("cpu_seconds")}


REPORT_ASSET = "month_close_report"


def billrecon_until_marts(entry: dict) -> float | None:
    """billrecon's time without the report pack (the run minus Dagster's timing of the report asset)."""
    measured = entry["steps"].get("billrecon")
    if not measured or not measured["ok"]:
        return None
    report = sum(a["seconds"] for a in measured["result"]["assets"] if a["asset"] == REPORT_ASSET)
    return measured["seconds"] - report


def print_table(sizes: dict) -> None:
    log("")
    log(f"{'size':>5}  {'step':<10} {'lines':>11} {'seconds':>9} {'rows/s':>11} {'peak RSS':>10} {'process s':>10}"
        f" {'CPU s':>8} {'cores':>6}  {'load before/after':>17}")
    for label, entry in sizes.items():
        for step in STEPS:
            measured = entry["steps"].get(step)
            if measured is None:
                continue
            if not measured["ok"]:
                log(f"{label:>5}  {step:<10} {entry['bill_lines']:>11,} {'FAILED':>9}  {measured['error']}")
                continue
            figures = step_figures(entry, step)
            log(f"{label:>5}  {step:<10} {entry['bill_lines']:>11,} {figures['seconds']:>9.1f} "
                f"{figures['rows_per_second']:>11,.0f} {figures['peak_rss_bytes'] / MIB:>7,.0f} MiB "
                f"{figures['process_seconds']:>10.1f} {_cpu(figures)}  {_load(measured):>17}")


def _cpu(figures: dict) -> str:
    """CPU seconds of the step's process and the cores it kept busy on average (CPU / wall)."""
    cpu = figures.get("cpu_seconds")
    if cpu is None:  # a result written before CPU time was recorded
        return f"{'':>8} {'':>6}"
    return f"{cpu:>8.1f} {cpu / figures['process_seconds']:>6.2f}"


def _cores(asset: dict) -> str:
    """Cores an asset kept busy on average; blank for a result without CPU samples."""
    cpu = asset.get("cpu_seconds")
    return f"{cpu / asset['seconds']:>6.2f}" if cpu is not None and asset["seconds"] >= 0.5 else f"{'':>6}"


def _load(measured: dict) -> str:
    before, after = measured.get("load_before"), measured.get("load_after")
    return f"{before:.1f} / {after:.1f}" if before is not None and after is not None else ""


def print_assets(sizes: dict) -> None:
    for label, entry in sizes.items():
        measured = entry["steps"].get("billrecon")
        if not measured or not measured["ok"]:
            continue
        noop = entry["steps"].get("noop")
        noop_assets = ({a["asset"]: a for a in noop["result"]["assets"]}
                       if noop and noop["ok"] else {})
        log("")
        log(f"billrecon per asset at {label} (Dagster step timings; peak RSS of the process while the asset ran)")
        log(f"  {'asset':<30} {'seconds':>9} {'share':>7} {'peak RSS':>10} {'cores':>6}   {'noop s':>8}")
        total = measured["result"]["run_cycle_seconds"]
        for asset in measured["result"]["assets"]:
            again = noop_assets.get(asset["asset"])
            log(f"  {asset['asset']:<30} {asset['seconds']:>9.2f} {asset['seconds'] / total:>7.1%} "
                f"{asset['peak_rss_bytes'] / MIB:>7,.0f} MiB {_cores(asset)}   "
                + (f"{again['seconds']:>8.2f}" if again else f"{'':>8}"))
        log(f"  {'(orchestration between assets)':<30} {measured['result']['orchestration_seconds']:>9.2f}")


def ratios(sizes: dict) -> dict:
    out = {}
    for label, entry in sizes.items():
        floor, billrecon, pandas = (step_figures(entry, s) for s in ("floor", "billrecon", "pandas"))
        row = {}
        if floor and billrecon:
            row["billrecon_over_floor"] = billrecon["seconds"] / floor["seconds"]
            row["billrecon_until_marts_over_floor"] = billrecon_until_marts(entry) / floor["seconds"]
            row["billrecon_over_floor_memory"] = billrecon["peak_rss_bytes"] / floor["peak_rss_bytes"]
        if pandas and billrecon:
            row["pandas_over_billrecon"] = pandas["seconds"] / billrecon["seconds"]
            row["pandas_over_billrecon_until_marts"] = pandas["seconds"] / billrecon_until_marts(entry)
        out[label] = row
    return out


def print_ratios(table: dict) -> None:
    log("")
    log("ratios (time unless said)")
    for label, row in table.items():
        if row:
            log(f"  {label:>4}: " + ", ".join(f"{name} {value:.2f}" for name, value in row.items()))


def _projection(points: list[tuple[int, float]], lines: int) -> float | None:
    """Power-law fit through the two largest measured sizes, evaluated at `lines`."""
    if len(points) < 2:
        return None
    (n1, y1), (n2, y2) = sorted(points)[-2:]
    if n1 == n2 or y1 <= 0 or y2 <= 0:
        return None
    exponent = math.log(y2 / y1) / math.log(n2 / n1)
    return y2 * (lines / n2) ** exponent


def _billrecon_seconds_projection(by_lines: dict, lines: int) -> float | None:
    """billrecon's time at `lines` as the sum of per-asset power-law projections.

    Assets scale differently (the XLSX sheet stops at Excel's row limit, the agreement join grows
    faster than linearly), so a fit of the whole run would hide the worst asset."""
    measured = [(n, e["steps"]["billrecon"]["result"]) for n, e in sorted(by_lines.items())
                if e["steps"].get("billrecon", {}).get("ok")]
    if len(measured) < 2:
        return None
    (n1, first), (n2, second) = measured[-2:]
    before = {a["asset"]: a["seconds"] for a in first["assets"]}
    total = second.get("orchestration_seconds", 0.0)
    for asset in second["assets"]:
        projected = _projection([(n1, before.get(asset["asset"], 0.0)), (n2, asset["seconds"])], lines)
        total += projected if projected is not None else asset["seconds"]
    return total


def _status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def targets(sizes: dict) -> list[dict]:
    by_lines = {entry["lines"]: entry for entry in sizes.values()}
    small, large = 1_000_000, 10_000_000

    def figure(lines: int, step: str, key: str) -> float | None:
        entry = by_lines.get(lines)
        figures = step_figures(entry, step) if entry else None
        return figures[key] if figures else None

    def points(step: str, key: str) -> list[tuple[int, float]]:
        return [(n, figure(n, step, key)) for n in by_lines if figure(n, step, key) is not None]

    results = []

    def add(name: str, value: float | None, ok: bool | None, shown: str, projected: str | None = None) -> None:
        results.append({"target": name, "value": value, "status": _status(ok), "shown": shown,
                        "projection": projected})

    # 1. billrecon ≤ 1.5 × floor at 10 M
    billrecon, floor = figure(large, "billrecon", "seconds"), figure(large, "floor", "seconds")
    value = billrecon / floor if billrecon and floor else None
    projected = None
    if value is None:
        b, f = _billrecon_seconds_projection(by_lines, large), _projection(points("floor", "seconds"), large)
        f = figure(large, "floor", "seconds") or f
        projected = f"projected {b / f:.1f}× at 10M ({b:,.0f} s / {f:,.0f} s)" if b and f else None
    add(f"billrecon ≤ {FLOOR_FACTOR} × floor at 10M", value,
        None if value is None else value <= FLOOR_FACTOR, f"{value:.2f}×" if value else "not measured", projected)

    # 2. pandas ≥ 10 × slower than billrecon (at the largest size with both)
    both = [n for n in sorted(by_lines) if figure(n, "pandas", "seconds") and figure(n, "billrecon", "seconds")]
    if both:
        n = both[-1]
        value = figure(n, "pandas", "seconds") / figure(n, "billrecon", "seconds")
        add(f"pandas ≥ {PANDAS_FACTOR:.0f} × slower than billrecon", value, value >= PANDAS_FACTOR,
            f"pandas/billrecon = {value:.2f} at {size_label(n)}")
    else:
        add(f"pandas ≥ {PANDAS_FACTOR:.0f} × slower than billrecon", None, None, "not measured")

    # 3. billrecon peak ≤ 3 GiB at 10 M
    peak = figure(large, "billrecon", "peak_rss_bytes")
    projected = None
    if peak is None and (p := _projection(points("billrecon", "peak_rss_bytes"), large)):
        projected = f"projected {p / GIB:.2f} GiB at 10M"
    add("billrecon peak RSS ≤ 3 GiB at 10M", peak, None if peak is None else peak <= MEMORY_LIMIT,
        f"{peak / GIB:.2f} GiB" if peak else "not measured", projected)

    # 4. memory grows less than linearly 1 M → 10 M
    p1, p10 = figure(small, "billrecon", "peak_rss_bytes"), figure(large, "billrecon", "peak_rss_bytes")
    growth_lines = (by_lines[large]["bill_lines"] / by_lines[small]["bill_lines"]
                    if small in by_lines and large in by_lines else large / small)
    value = p10 / p1 if p1 and p10 else None
    projected = None
    if value is None and p1 and (p := _projection(points("billrecon", "peak_rss_bytes"), large)):
        projected = f"projected {p / p1:.1f}× for {growth_lines:.0f}× the lines"
    add("billrecon peak RSS grows less than linearly 1M → 10M", value,
        None if value is None else value < growth_lines,
        f"{value:.2f}× for {growth_lines:.2f}× the lines" if value else "not measured", projected)

    # 5. time at 10 M within 11 × the time at 1 M
    t1, t10 = figure(small, "billrecon", "seconds"), figure(large, "billrecon", "seconds")
    value = t10 / t1 if t1 and t10 else None
    projected = None
    if value is None and t1 and (p := _billrecon_seconds_projection(by_lines, large)):
        projected = f"projected {p / t1:.1f}× ({p:,.0f} s, sum of per-asset fits)"
    add(f"billrecon time 10M ≤ {TIME_SCALING:.0f} × time 1M", value,
        None if value is None else value <= TIME_SCALING, f"{value:.2f}×" if value else "not measured", projected)

    # 6. nightly run with nothing new under 10 s (the largest size measured)
    noop = points("noop", "seconds")
    if noop:
        n, seconds = max(noop)
        add(f"nightly run with nothing new < {NOOP_SECONDS:.0f} s", seconds, seconds < NOOP_SECONDS,
            f"{seconds:.1f} s at {size_label(n)}")
    else:
        add(f"nightly run with nothing new < {NOOP_SECONDS:.0f} s", None, None, "not measured")
    return results


def print_targets(results: list[dict]) -> None:
    log("")
    log("targets (issue 6)")
    for result in results:
        extra = f"  [{result['projection']}]" if result["projection"] else ""
        log(f"  {result['status']:<4}  {result['target']:<55} {result['shown']}{extra}")


def machine() -> dict:
    versions = {}
    for package in ("duckdb", "polars", "pandas", "pandera", "dagster", "xlsxwriter", "numpy", "pyarrow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    memory = None
    with contextlib.suppress(OSError):  # no /proc (not Linux): memory stays unknown
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            memory = int(meminfo.readline().split()[1]) * 1024
    return {"cpus": os.cpu_count(), "memory_bytes": memory, "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions}


def code_version() -> dict:
    """The commit measured, and which files of the measured code differ from it (others edit them)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""
    changed = git("status", "--porcelain", "--", "pipelines", "schemas", "sql", "reports", "sandbox").splitlines()
    # a copy made with `git archive` is no checkout: its runner names the commit in the environment
    commit = git("rev-parse", "HEAD").strip() or os.environ.get("BILLRECON_BENCH_COMMIT") or None
    return {"commit": commit, "uncommitted": [line[3:] for line in changed]}


# ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(DEFAULT_SIZES), help="bill lines per month, e.g. 1M,3M,10M")
    parser.add_argument("--only", default=",".join(STEPS), help=f"steps to run, among {','.join(STEPS)}")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where months and work files go")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "latest.json", help="JSON figures")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached months")
    parser.add_argument("--merge", action="store_true",
                        help="keep an earlier results file's figures for sizes/steps not measured now")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: print the table, ratios and targets of the results file")
    args = parser.parse_args(argv)
    args.sizes = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(STEPS)
    if unknown:
        parser.error(f"unknown step(s) {sorted(unknown)}; choose among {', '.join(STEPS)}")
    args.only = [s for s in STEPS if s in args.only]  # noop needs billrecon's warehouse: keep the order
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        document = json.loads(args.results.read_text(encoding="utf-8"))
        sizes = document["sizes"]
        print_table(sizes)
        print_assets(sizes)
        print_ratios(ratios(sizes))
        print_targets(targets(sizes))
        return 0
    cache = args.cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(cache).free
    log(f"bench: sizes {', '.join(size_label(n) for n in args.sizes)}; steps {', '.join(args.only)}; "
        f"cache {cache} ({free / GIB:.0f} GiB free)")
    started = time.time()
    code = code_version()  # at the start: the children import the code as it is now
    sizes: dict[str, dict] = {}
    if args.merge and args.results.exists():
        sizes = json.loads(args.results.read_text(encoding="utf-8")).get("sizes", {})
    for lines in args.sizes:
        label = size_label(lines)
        measured = run_size(cache, lines, args.only, args.regenerate)
        if label in sizes and sizes[label].get("bill_lines") == measured["bill_lines"]:
            sizes[label]["steps"].update(measured["steps"])
            sizes[label]["world"] = measured["world"]
            if "verification" in measured:
                sizes[label]["verification"] = measured["verification"]
        else:
            sizes[label] = measured
    sizes = dict(sorted(sizes.items(), key=lambda item: item[1]["lines"]))

    print_table(sizes)
    print_assets(sizes)
    table = ratios(sizes)
    print_ratios(table)
    results = targets(sizes)
    print_targets(results)

    verifications = {label: entry["verification"] for label, entry in sizes.items() if "verification" in entry}
    document = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_seconds": round(time.time() - started, 1),
        "bill_cycle": BILL_CYCLE,
        "machine": machine(),
        "code": code,
        "sizes": sizes,
        "ratios": table,
        "targets": results,
        "verification": verifications,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    log(f"\nfigures written to {args.results}")
    mismatched = [label for label, check in verifications.items() if not check.get("equal")]
    if mismatched:
        log(f"ERROR: the pandas mart differs from billrecon's at {', '.join(mismatched)}")
        return 1
    failed = [label for label, entry in sizes.items() for m in entry["steps"].values() if not m["ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
