"""`make bench` / `python -m bench.run`: how billrecon's month close scales, against a floor and pandas.

For each size (default 1 M, 3 M and 10 M bill lines) the month is generated once with the
sandbox generator into the cache (`bench/.cache/worlds/<size>/`, reused while its spec is
unchanged), then these steps run on the same files, each in its own child process:

- `floor`: DuckDB's own `read_csv` loads the archive's members into a typed table (`bench.floor`);
- `billrecon`: the whole month close, files → marts → reports, in a fresh warehouse (`bench.pipeline`);
- `noop`: the same cycle again on the same warehouse with nothing new (the nightly case);
- `pandas`: a plain pandas build of marts.customer_monthly_expenditure (`bench.pandas_mart`).

The floor, billrecon and noop steps run `--repeats` times (default 3), alternating (floor,
billrecon, noop, floor, billrecon, noop, …), so that a change of load on a shared machine falls on
both sides; pandas runs once. Per step: wall time of the work (imports excluded), rows per second
(bill lines of the month / that time), peak resident memory and CPU time of the step's process as
the OS accounts them (`bench.measure`), and the 1-minute load average before and after; a step
whose load exceeded the cores is flagged. When both billrecon and pandas ran on a size, the two
marts are compared row by row and the run fails (exit 1) unless amount due, customer charge and
margin agree to the last of 8 decimals.

It prints every run, the median ratio billrecon/floor with its range, and PASS/FAIL against the
targets of issue 17 (`bench.verdict`); it never fails on a missed target. Figures go to
`bench/results/latest.json`, with the machine (cores, memory) and the commit measured.

Options: `--sizes 1M,3M,10M`, `--only floor,billrecon,noop,pandas`, `--repeats N`, `--cache DIR`,
`--regenerate` (rebuild cached months), `--merge` (keep the figures of an earlier latest.json for
the sizes this run does not measure, e.g. to add the 10 M month to a 1 M + 3 M run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
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
from bench.measure import interrupted_exit, run_step, stop_on_terminate
from bench.verdict import median_repeat, overloaded, repeat_ratios, spread, step_values, targets

STEPS = ("floor", "billrecon", "noop", "pandas")
REPEATED = ("floor", "billrecon", "noop")  # run --repeats times, alternating; pandas runs once
GIB = 1 << 30
MIB = 1 << 20
CORES = os.cpu_count() or 1


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


# Steps that start from an empty work folder. The previous repeat's files are removed by the parent,
# for both sides of the ratio alike: deleting billrecon's 4.7 GB at 10 M lines took 1.9 s, which no
# month close spends (the steps still remove a folder they find, when run on their own).
FRESH_STEPS = ("floor", "billrecon")


def step_args(step: str, cache: Path, label: str) -> dict:
    world = str(world_dir(cache, label))
    if step == "floor":
        return {"world": world, "work": str(work_dir(cache, label, "floor"))}
    if step in ("billrecon", "noop"):
        return {"world": world, "work": str(work_dir(cache, label, "billrecon")), "bill_cycle": BILL_CYCLE}
    if step == "pandas":
        return {"world": world, "out": str(work_dir(cache, label, "pandas") / "customer_monthly_expenditure.parquet")}
    raise ValueError(step)


def _measure(step: str, cache: Path, label: str, bill_lines: int, log_name: str) -> dict:
    log(f"[{label}] {log_name} …")
    arguments = step_args(step, cache, label)
    if step in FRESH_STEPS:  # before the child starts: neither its time nor its CPU
        shutil.rmtree(arguments["work"], ignore_errors=True)
    measured = run_step(step, arguments, cache / "logs" / label, log_name)
    if measured.ok:
        flag = "  [load above the cores]" if overloaded(measured.as_dict(), CORES) else ""
        log(f"[{label}]   {log_name}: {measured.seconds:.1f} s, {bill_lines / measured.seconds:,.0f} rows/s, "
            f"peak {measured.peak_rss_bytes / MIB:,.0f} MiB, load {measured.load_before:.1f} → "
            f"{measured.load_after:.1f}{flag}")
    else:
        log(f"[{label}]   {log_name} FAILED: {measured.error} (log: {measured.log})")
    return measured.as_dict()


def run_size(cache: Path, lines: int, steps: list[str], regenerate: bool, repeats: int) -> dict:
    label = size_label(lines)
    world = ensure_world(cache, lines, regenerate)
    bill_lines = world["manifest"]["bill_lines"]
    entry = {"lines": lines, "bill_lines": bill_lines, "world": world, "repeats": [], "steps": {}}
    repeated = [step for step in steps if step in REPEATED]
    for number in range(1, repeats + 1 if repeated else 1):
        entry["repeats"].append({step: _measure(step, cache, label, bill_lines, f"{step}-{number}")
                                 for step in repeated})
    # the repeat with the median ratio stands for the size in the tables of steps and assets
    middle = median_repeat(entry, CORES)
    entry["steps"] = dict(entry["repeats"][middle if middle is not None else -1]) if entry["repeats"] else {}
    if "pandas" in steps:
        entry["steps"]["pandas"] = _measure("pandas", cache, label, bill_lines, "pandas")
    billrecon, pandas = entry["steps"].get("billrecon"), entry["steps"].get("pandas")
    warehouse = work_dir(cache, label, "billrecon") / "warehouse" / "billrecon.duckdb"
    parquet = Path(step_args("pandas", cache, label)["out"])
    if billrecon and pandas and billrecon["ok"] and pandas["ok"] and warehouse.exists() and parquet.exists():
        verified = run_step("verify", {"pandas_mart": str(parquet), "warehouse": str(warehouse),
                                       "bill_cycle": BILL_CYCLE}, cache / "logs" / label)
        entry["verification"] = verified.result if verified.ok else {"equal": False, "error": verified.error}
        log(f"[{label}] pandas mart vs billrecon mart: "
            + ("identical" if entry["verification"].get("equal") else f"DIFFERENT {entry['verification']}"))
    return entry


# ------------------------------------------------------------------------------------------------
# reporting


def _figures(entry: dict, measured: dict) -> dict:
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
    log(f"{'size':>5}  {'step':<12} {'lines':>11} {'seconds':>9} {'rows/s':>11} {'peak RSS':>10} {'process s':>10}"
        f" {'CPU s':>8} {'cores':>6}  {'load before/after':>17}")
    for label, entry in sizes.items():
        runs = [(f"{step}-{number}", measured) for number, repeat in enumerate(entry.get("repeats", []), start=1)
                for step, measured in repeat.items()]
        if "pandas" in entry["steps"]:
            runs.append(("pandas", entry["steps"]["pandas"]))
        for name, measured in runs:
            if not measured["ok"]:
                log(f"{label:>5}  {name:<12} {entry['bill_lines']:>11,} {'FAILED':>9}  {measured['error']}")
                continue
            figures = _figures(entry, measured)
            flag = "  ! load above the cores" if overloaded(measured, CORES) else ""
            log(f"{label:>5}  {name:<12} {entry['bill_lines']:>11,} {figures['seconds']:>9.1f} "
                f"{figures['rows_per_second']:>11,.0f} {figures['peak_rss_bytes'] / MIB:>7,.0f} MiB "
                f"{figures['process_seconds']:>10.1f} {_cpu(figures)}  {_load(measured):>17}{flag}")


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
    """Per size: billrecon / floor as the median of the repeats (with its range), the same without
    the report pack, and pandas / billrecon."""
    out = {}
    for label, entry in sizes.items():
        row = {}
        rows = repeat_ratios(entry, CORES)
        if figures := spread([r["ratio"] for r in rows]):
            row["billrecon_over_floor"] = {"median": figures.median, "low": figures.low, "high": figures.high,
                                           "runs": figures.count,
                                           "overloaded_runs": sum(r["overloaded"] for r in rows)}
        floor = spread(step_values(entry, "floor", "seconds"))
        until_marts = billrecon_until_marts(entry)
        if floor and until_marts:
            row["billrecon_until_marts_over_floor"] = until_marts / floor.median
        billrecon, pandas = entry["steps"].get("billrecon"), entry["steps"].get("pandas")
        if billrecon and pandas and billrecon["ok"] and pandas["ok"]:
            row["pandas_over_billrecon"] = pandas["seconds"] / billrecon["seconds"]
        out[label] = row
    return out


def print_ratios(table: dict) -> None:
    log("")
    log("ratios (time)")
    for label, row in table.items():
        parts = []
        if ratio := row.get("billrecon_over_floor"):
            flagged = f", {ratio['overloaded_runs']} flagged" if ratio["overloaded_runs"] else ""
            parts.append(f"billrecon/floor {ratio['median']:.2f} (median of {ratio['runs']}, range "
                         f"{ratio['low']:.2f}–{ratio['high']:.2f}{flagged})")
        parts += [f"{name} {value:.2f}" for name, value in row.items() if name != "billrecon_over_floor"]
        if parts:
            log(f"  {label:>4}: " + ", ".join(parts))


def print_targets(results: list[dict]) -> None:
    log("")
    log("targets (issue 17)")
    for result in results:
        log(f"  {result['status']:<4}  {result['target']:<45} {result['shown']}")


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
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternating floor/billrecon/noop runs per size (1 for a quick check)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where months and work files go")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "latest.json", help="JSON figures")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached months")
    parser.add_argument("--merge", action="store_true",
                        help="keep an earlier results file's figures for sizes/steps not measured now")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: print the table, ratios and targets of the results file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    args.sizes = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(STEPS)
    if unknown:
        parser.error(f"unknown step(s) {sorted(unknown)}; choose among {', '.join(STEPS)}")
    args.only = [s for s in STEPS if s in args.only]  # noop needs billrecon's warehouse: keep the order
    return args


def main(argv: list[str] | None = None) -> int:
    stop_on_terminate()
    args = parse_args(argv)
    if args.report_only:
        document = json.loads(args.results.read_text(encoding="utf-8"))
        sizes = document["sizes"]
        print_table(sizes)
        print_assets(sizes)
        print_ratios(ratios(sizes))
        print_targets(targets(sizes, document["machine"]["cpus"] or CORES))
        return 0
    cache = args.cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(cache).free
    log(f"bench: sizes {', '.join(size_label(n) for n in args.sizes)}; steps {', '.join(args.only)}; "
        f"{args.repeats} repeat(s); cache {cache} ({free / GIB:.0f} GiB free); {CORES} cores")
    started = time.time()
    code = code_version()  # at the start: the children import the code as it is now
    sizes: dict[str, dict] = {}
    if args.merge and args.results.exists():
        sizes = json.loads(args.results.read_text(encoding="utf-8")).get("sizes", {})
    for lines in args.sizes:
        sizes[size_label(lines)] = run_size(cache, lines, args.only, args.regenerate, args.repeats)
    sizes = dict(sorted(sizes.items(), key=lambda item: item[1]["lines"]))

    print_table(sizes)
    print_assets(sizes)
    table = ratios(sizes)
    print_ratios(table)
    results = targets(sizes, CORES)
    print_targets(results)

    verifications = {label: entry["verification"] for label, entry in sizes.items() if "verification" in entry}
    document = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_seconds": round(time.time() - started, 1),
        "bill_cycle": BILL_CYCLE,
        "repeats": args.repeats,
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
    failed = [label for label, entry in sizes.items()
              for m in [*entry["steps"].values(), *(m for r in entry.get("repeats", []) for m in r.values())]
              if not m["ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    with interrupted_exit("bench.run"):
        sys.exit(main())
