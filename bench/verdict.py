"""The verdict of `make bench` on figures already measured: medians of repeated runs, runs taken
on an overloaded machine, and PASS/FAIL against the targets of issue 17.

Pure functions of the results document's `sizes` (see `bench.run`), so that
tests/unit/test_bench_verdict.py checks them on given numbers. A size's entry holds `repeats`:
one dict per repeat, step name -> that step's measurement (`bench.measure.Measurement.as_dict`),
the floor and billrecon (and the nothing-new rerun) of one repeat run one after the other.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.common import size_label

GIB = 1 << 30

# issue 17 targets, all at 10 M lines
TARGET_LINES = 10_000_000
FLOOR_FACTOR = 1.0            # billrecon ≤ 1.0 × the floor (median of the repeats)
MEMORY_LIMIT = int(2.5 * GIB)  # billrecon's peak RSS ≤ 2.5 GiB (the largest of the repeats)
NOOP_SECONDS = 3.0            # a nightly run with nothing new ≤ 3 s (median of the repeats)


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements and their range."""

    median: float
    low: float
    high: float
    count: int

    def shown(self, unit: str = "", digits: int = 2) -> str:
        if self.count == 1:
            return f"{self.median:.{digits}f}{unit} (1 run)"
        return (f"{self.median:.{digits}f}{unit} (median of {self.count}, range {self.low:.{digits}f}–"
                f"{self.high:.{digits}f}{unit})")


def spread(values: list[float]) -> Spread | None:
    if not values:
        return None
    return Spread(statistics.median(values), min(values), max(values), len(values))


def overloaded(measured: dict, cores: int) -> bool:
    """True when the 1-minute load average before or after the step exceeded the cores: other
    processes were competing for them, and the step's time was stretched."""
    return any(load is not None and load > cores
               for load in (measured.get("load_before"), measured.get("load_after")))


def _ok(measured: dict | None) -> bool:
    return bool(measured and measured.get("ok"))


def repeat_ratios(entry: dict, cores: int) -> list[dict]:
    """billrecon / floor for each repeat in which both ran, and whether either ran overloaded."""
    rows = []
    for number, repeat in enumerate(entry.get("repeats", []), start=1):
        floor, billrecon = repeat.get("floor"), repeat.get("billrecon")
        if _ok(floor) and _ok(billrecon):
            rows.append({"repeat": number, "ratio": billrecon["seconds"] / floor["seconds"],
                         "floor_seconds": floor["seconds"], "billrecon_seconds": billrecon["seconds"],
                         "overloaded": overloaded(floor, cores) or overloaded(billrecon, cores)})
    return rows


def step_values(entry: dict, step: str, key: str) -> list[float]:
    """`key` of every successful run of `step` over the repeats."""
    return [repeat[step][key] for repeat in entry.get("repeats", []) if _ok(repeat.get(step))]


def median_repeat(entry: dict, cores: int) -> int | None:
    """Index (0-based) of the repeat whose ratio is the median one (the lower middle of an even
    count): its per-asset figures stand for the size in the tables."""
    rows = sorted(repeat_ratios(entry, cores), key=lambda row: row["ratio"])
    return rows[(len(rows) - 1) // 2]["repeat"] - 1 if rows else None


def _status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def _flagged(rows: list[dict]) -> str:
    count = sum(row["overloaded"] for row in rows)
    return f"; {count} of {len(rows)} runs flagged: load above the cores" if count else ""


def targets(sizes: dict, cores: int) -> list[dict]:
    """PASS/FAIL for each target of issue 17 at 10 M lines; n/a (with the largest size measured
    shown beside it) when the 10 M month was not measured."""
    by_lines = {entry["lines"]: entry for entry in sizes.values()}
    largest = max(by_lines, default=None)
    at_target = by_lines.get(TARGET_LINES)
    results = []

    def add(name: str, value: float | None, ok: bool | None, shown: str) -> None:
        results.append({"target": name, "value": value, "status": _status(ok), "shown": shown})

    def elsewhere(describe) -> str:
        """What the largest measured size gave, for a target whose size was not measured."""
        if largest is None:
            return "not measured"
        text = describe(by_lines[largest])
        return f"not measured at 10M; at {size_label(largest)}: {text}" if text else "not measured"

    def ratio_text(entry: dict) -> str | None:
        rows = repeat_ratios(entry, cores)
        figures = spread([row["ratio"] for row in rows])
        return figures.shown("×") + _flagged(rows) if figures else None

    def peak_text(entry: dict) -> str | None:
        peaks = step_values(entry, "billrecon", "peak_rss_bytes")
        return f"{max(peaks) / GIB:.2f} GiB (largest of {len(peaks)})" if peaks else None

    def noop_text(entry: dict) -> str | None:
        figures = spread(step_values(entry, "noop", "seconds"))
        return figures.shown(" s", 1) if figures else None

    name = f"billrecon ≤ {FLOOR_FACTOR:.1f} × floor at 10M"
    ratio = spread([row["ratio"] for row in repeat_ratios(at_target, cores)]) if at_target else None
    if ratio:
        add(name, ratio.median, ratio.median <= FLOOR_FACTOR, ratio_text(at_target))
    else:
        add(name, None, None, elsewhere(ratio_text))

    name = f"billrecon peak RSS ≤ {MEMORY_LIMIT / GIB:.1f} GiB at 10M"
    peaks = step_values(at_target, "billrecon", "peak_rss_bytes") if at_target else []
    if peaks:
        add(name, max(peaks), max(peaks) <= MEMORY_LIMIT, peak_text(at_target))
    else:
        add(name, None, None, elsewhere(peak_text))

    name = f"nightly run with nothing new ≤ {NOOP_SECONDS:.0f} s at 10M"
    noop = spread(step_values(at_target, "noop", "seconds")) if at_target else None
    if noop:
        add(name, noop.median, noop.median <= NOOP_SECONDS, noop_text(at_target))
    else:
        add(name, None, None, elsewhere(noop_text))
    return results
