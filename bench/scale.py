"""`make bench-scale` / `python -m bench.scale`: N partner accounts' months closed at once on one machine.

One month of `--size` bill lines (default 1M) is generated once into the bench cache (`bench.common`),
then staged as N partner accounts, each with its own inbox folder (hard links to the same files).
For each N of `--partners` (default 1,2,4) and each warehouse:

- `lake`: a fresh PostgreSQL (`sandbox.postgres`) holds the DuckLake catalog, a folder its data; N
  `billrecon run --month …` processes start at once, each with its own BILLRECON_PARTNER_ID, inbox,
  working file and reports folder, and each publishes its account's month to the one lake;
- `files`: the same N processes, each into its own DuckDB file (no lake), so the lake's cost shows.

Measured per batch: wall time of the whole batch, each child's wall time, peak RSS and CPU time (its
own rusage, `bench.measure.wait_for_all`), lines per second (N × the month's lines / batch wall time),
the speed-up of that throughput against N = 1, and the 1-minute load average before and after; after a
lake batch, one account's month is published once more with no other writer, timed. Every
account's month must have landed: its rows of marts.customer_bill_line equal the month's lines less
those its run quarantined and the Adjustment lines (a customer's bill has none), or the bench fails
(exit 1). Figures: `bench/results/scale.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from bench.common import BILL_CYCLE, DEFAULT_CACHE, REPO_DIR, RESULTS_DIR, parse_size, size_label, world_dir
from bench.generate import cached_world
from bench.measure import children, interrupted_exit, load_average, stop_on_terminate, wait_for_all

MODES = ("lake", "files")
MIB = 1 << 20
LAKE_DATABASE = "billrecon_lake"


class BenchFailure(Exception):
    """A batch that did not do its work: a child failed, or an account's month is missing or incomplete."""


def log(message: str) -> None:
    print(message, flush=True)


# ------------------------------------------------------------------------------------------------ staging

def partner_ids(count: int) -> list[str]:
    return [f"partner-{index}" for index in range(1, count + 1)]


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def stage_accounts(world: Path, root: Path, partners: list[str]) -> dict[str, Path]:
    """One inbox folder per account, each holding the month's files (the manifest left out)."""
    inboxes = {}
    for partner in partners:
        inbox = root / partner
        if not inbox.is_dir():
            partial = inbox.with_name(inbox.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(world, partial, copy_function=_link_or_copy,
                            ignore=shutil.ignore_patterns("manifest.json"))
            partial.rename(inbox)
        inboxes[partner] = inbox
    return inboxes


def child_environment(partner: str, inbox: Path, lake: dict[str, str] | None) -> dict[str, str]:
    """A child's settings: this process's environment without any BILLRECON_* (the bench sets each one a
    run reads), the account, its inbox, reports and working file, and the lake's settings or its DuckDB file."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("BILLRECON_")}
    working = f"warehouse/{partner}/billrecon.duckdb"
    environment.update(PYTHONUNBUFFERED="1", BILLRECON_PARTNER_ID=partner, BILLRECON_INBOX_DIR=str(inbox),
                       BILLRECON_REPORTS_DIR=f"reports/{partner}")
    if lake:
        environment.update(lake, BILLRECON_WORKING_WAREHOUSE=working)
    else:
        environment["BILLRECON_WAREHOUSE"] = working
    return environment


# ------------------------------------------------------------------------------------------------ one batch

def run_batch(work: Path, inboxes: dict[str, Path], lake: dict[str, str] | None) -> dict:
    """Start one `billrecon run` per account at once in `work`, wait for all; the batch's figures."""
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes, started, log_paths = {}, {}, {}
    load_before = load_average()
    batch_started = time.perf_counter()
    with children() as started_children:
        for partner, inbox in inboxes.items():
            log_paths[partner] = logs / f"{partner}.log"
            with log_paths[partner].open("w", encoding="utf-8") as output:
                process = subprocess.Popen(
                    [sys.executable, "-m", "billrecon.cli", "run", "--month", BILL_CYCLE], cwd=work,
                    env=child_environment(partner, inbox, lake), stdout=output, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL)
            started_children.append(process)
            processes[partner], started[process.pid] = process, time.perf_counter()
        ended = wait_for_all(started)
    wall = time.perf_counter() - batch_started
    figures = []
    for partner, process in processes.items():
        child = ended[process.pid]
        process.returncode = child.exit_code  # reaped by wait_for_all; keep Popen consistent
        figures.append({"partner": partner, "exit_code": child.exit_code, "seconds": round(child.seconds, 3),
                         "peak_rss_bytes": child.peak_rss_bytes, "cpu_seconds": child.cpu_seconds,
                         "log": str(log_paths[partner])})
    return {"wall_seconds": round(wall, 3), "children": figures, "load_before": load_before,
            "load_after": load_average()}


MONTH_COUNTS = """
    select account, sum(lines)::bigint, sum(adjustments)::bigint, coalesce(sum(quarantined), 0)::bigint from (
        select {account} as account, count(*) as lines, 0 as adjustments, 0 as quarantined
        from marts.customer_bill_line where bill_cycle = $cycle group by all
        union all
        select {account}, 0, count(*), 0 from marts.focus_partner_cost
        where "x_BillCycle" = $cycle and "x_BillType" = 'Adjustment' group by all
        union all
        select {account}, 0, 0, sum(rows_quarantined) from audit.loads
        where source = 'customerBill' and bill_cycle = $cycle group by all)
    group by account"""


def month_counts(con, account_column: str | None) -> dict[str | None, tuple[int, int, int]]:
    """Per account (None in a DuckDB file, which holds one): the month's lines in marts.customer_bill_line
    (Expenditure and Refund lines), its Adjustment lines (in marts.focus_partner_cost, which has every
    line) and the lines quarantined from its bill file (audit.loads)."""
    rows = con.execute(MONTH_COUNTS.format(account=account_column or "null::varchar"), {"cycle": BILL_CYCLE})
    return {account: (lines, adjustments, quarantined) for account, lines, adjustments, quarantined in rows.fetchall()}


def landed(batch: dict, work: Path, lake: dict[str, str] | None, bill_lines: int) -> dict[str, dict]:
    """Each account's month as its warehouse holds it; raises BenchFailure if a child failed or a month
    is missing or short of lines."""
    import duckdb

    from pipelines.lib import lakehouse

    failed = [f"{c['partner']} exited {c['exit_code']} (log: {c['log']})" for c in batch["children"] if c["exit_code"]]
    if failed:
        raise BenchFailure("; ".join(failed))
    partners = [child["partner"] for child in batch["children"]]
    if lake:
        con = lakehouse.connect(lakehouse.LakeSettings.from_env(lake), read_only=True)
        with contextlib.closing(con):
            counts = month_counts(con, lakehouse.ACCOUNT_COLUMN)
    else:
        counts = {}
        for partner in partners:
            with contextlib.closing(duckdb.connect(str(work / "warehouse" / partner / "billrecon.duckdb"),
                                                   read_only=True)) as con:
                con.execute("set enable_progress_bar = false")  # counting the FOCUS view takes seconds
                counts[partner] = month_counts(con, None).get(None, (0, 0, 0))
    found = {}
    for partner in partners:
        lines, adjustments, quarantined = counts.get(partner, (0, 0, 0))
        if lines != bill_lines - quarantined - adjustments:
            raise BenchFailure(f"{partner}'s month {BILL_CYCLE} has {lines:,} lines in marts.customer_bill_line, "
                               f"expected {bill_lines:,} generated − {quarantined:,} quarantined − {adjustments:,} "
                               "adjustments (not customer bill lines)")
        found[partner] = {"lines": lines, "adjustments": adjustments, "quarantined": quarantined}
    return found


def publish_alone(work: Path, lake: dict[str, str], partner: str) -> dict:
    """One account's month published again, as a new account, with no other writer: the publish step's
    own time (the working file's fingerprint, the marts and audit tables written as Parquet, the catalog
    commit in PostgreSQL), which a batch's wall time hides among the runs."""
    from pipelines.lib.lake_publish import publish_to_lake
    from pipelines.lib.lakehouse import LakeSettings, Partition

    started = time.perf_counter()
    commit = publish_to_lake(work / "warehouse" / partner / "billrecon.duckdb", LakeSettings.from_env(lake),
                             Partition("bench-publish-probe", BILL_CYCLE), run_id="bench-publish-probe")
    return {"seconds": round(time.perf_counter() - started, 3), "attempts": commit.attempts}


def measure(mode: str, work: Path, inboxes: dict[str, Path], bill_lines: int, keep: bool) -> dict:
    """One batch of `mode` with a fresh working folder (and, for the lake, a fresh PostgreSQL)."""
    from sandbox.postgres import LocalPostgresServer

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        lake = None
        if mode == "lake":
            server = stack.enter_context(LocalPostgresServer())
            lake = {"BILLRECON_WAREHOUSE": "ducklake:postgres:" + server.create_database(LAKE_DATABASE),
                    "BILLRECON_LAKE_DATA_PATH": str(work / "lake") + "/"}
        batch = run_batch(work, inboxes, lake)
        batch.update(mode=mode, partners=len(inboxes))
        try:
            batch["accounts"] = landed(batch, work, lake, bill_lines)
            batch["ok"] = True
            if lake:
                batch["publish_alone"] = publish_alone(work, lake, next(iter(inboxes)))
        except BenchFailure as failure:
            batch.update(ok=False, error=str(failure))
    if batch["ok"] and not keep:  # gigabytes per account; the logs stay
        for folder in ("warehouse", "reports", "lake"):
            shutil.rmtree(work / folder, ignore_errors=True)
    return batch


# ------------------------------------------------------------------------------------------------ figures

def summarise(batches: list[dict], bill_lines: int) -> list[dict]:
    """The table's rows: per batch its throughput, the speed-up of that throughput against the same
    warehouse with one account, the largest child's peak RSS, and for the lake its wall time over the
    DuckDB files' at the same N (the cost of publishing to the lake)."""
    done = [batch for batch in batches if batch["ok"]]
    one = {batch["mode"]: batch["wall_seconds"] for batch in done if batch["partners"] == 1}
    files = {batch["partners"]: batch["wall_seconds"] for batch in done if batch["mode"] == "files"}
    rows = []
    for batch in done:
        mode, count, wall = batch["mode"], batch["partners"], batch["wall_seconds"]
        lines_per_second = count * bill_lines / wall
        child_seconds = [child["seconds"] for child in batch["children"]]
        rows.append({
            "partners": count, "mode": mode, "wall_seconds": wall, "lines_per_second": lines_per_second,
            "speed_up": lines_per_second / (bill_lines / one[mode]) if mode in one else None,
            "child_seconds": (min(child_seconds), max(child_seconds)),
            "peak_rss_bytes": max(child["peak_rss_bytes"] for child in batch["children"]),
            "lake_over_files": wall / files[count] if mode == "lake" and count in files else None,
            "load": (batch["load_before"], batch["load_after"]),
        })
    return sorted(rows, key=lambda row: (row["partners"], MODES.index(row["mode"])))


def table_lines(rows: list[dict]) -> list[str]:
    def optional(value: float | None, form: str) -> str:
        return "n/a" if value is None else format(value, form)

    lines = [f"{'N':>3}  {'warehouse':<9} {'wall s':>8} {'lines/s':>10} {'speed-up':>8} {'each run s':>13} "
             f"{'peak RSS/run':>12} {'load before/after':>17} {'lake/files':>10}"]
    for row in rows:
        low, high = row["child_seconds"]
        load = "/".join(optional(value, ".1f") for value in row["load"])
        lines.append(f"{row['partners']:>3}  {row['mode']:<9} {row['wall_seconds']:>8.1f} "
                     f"{row['lines_per_second']:>10,.0f} {optional(row['speed_up'], '.2f') + ' ×':>8} "
                     f"{f'{low:.1f}–{high:.1f}':>13} {row['peak_rss_bytes'] / MIB:>8,.0f} MiB {load:>17} "
                     f"{'' if row['lake_over_files'] is None else format(row['lake_over_files'], '.2f') + ' ×':>10}")
    return lines


def machine() -> dict:
    memory = None
    with contextlib.suppress(OSError):  # no /proc (not Linux): memory stays unknown
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            memory = int(meminfo.readline().split()[1]) * 1024
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_DIR, capture_output=True, text=True).stdout.strip()
    return {"cores": os.cpu_count(), "memory_bytes": memory, "duckdb": metadata.version("duckdb"),
            "commit": commit or os.environ.get("BILLRECON_BENCH_COMMIT")}


# ------------------------------------------------------------------------------------------------ main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1M", help="bill lines of the month, e.g. 1M or 100k")
    parser.add_argument("--partners", default="1,2,4", help="accounts run at once, one batch each")
    parser.add_argument("--only", default=",".join(MODES), help="warehouses to measure: lake, files")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the month and work files go")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "scale.json", help="JSON figures")
    parser.add_argument("--keep", action="store_true", help="keep each batch's warehouses and reports")
    args = parser.parse_args(argv)
    try:
        args.size = parse_size(args.size)
        args.partners = sorted({int(count) for count in args.partners.split(",") if count.strip()})
    except ValueError as exc:
        parser.error(str(exc))
    args.only = [mode.strip() for mode in args.only.split(",") if mode.strip()]
    if not args.partners or min(args.partners) < 1 or not set(args.only) <= set(MODES) or not args.only:
        parser.error(f"--partners takes counts ≥ 1 (e.g. 1,2,4); --only some of {','.join(MODES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    from sandbox.postgres import PostgresUnavailable

    stop_on_terminate()
    args = parse_args(argv)
    label = size_label(args.size)
    manifest = cached_world(args.cache, args.size, say=log)
    bill_lines = manifest["bill_lines"]
    root = args.cache / "runs" / f"scale-{label}"
    batches = []
    for count in args.partners:
        inboxes = stage_accounts(world_dir(args.cache, label), root / "inboxes", partner_ids(count))
        for mode in (mode for mode in MODES if mode in args.only):
            log(f"[{label}] {count} account(s) at once, {mode} …")
            try:
                batch = measure(mode, root / f"{mode}-{count}", inboxes, bill_lines, args.keep)
            except PostgresUnavailable as exc:
                log(f"cannot start PostgreSQL for the lake: {exc}")
                return 2
            batches.append(batch)
            log(f"[{label}]   " + (f"{batch['wall_seconds']:.1f} s" if batch["ok"] else f"FAILED: {batch['error']}"))
    rows = summarise(batches, bill_lines)
    log("")
    for line in table_lines(rows):
        log(line)
    for batch in batches:
        if "publish_alone" in batch:
            log(f"N = {batch['partners']}: one account's publish to the lake alone took "
                f"{batch['publish_alone']['seconds']:.1f} s")
    figures = {"size": label, "bill_lines": bill_lines, "bill_cycle": BILL_CYCLE, "machine": machine(),
               "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "batches": batches, "table": rows}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    log(f"\nfigures: {args.results}")
    return 0 if all(batch["ok"] for batch in batches) else 1


if __name__ == "__main__":
    with interrupted_exit("bench.scale"):
        sys.exit(main())
