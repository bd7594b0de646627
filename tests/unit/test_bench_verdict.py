"""`make bench`'s verdict on given figures: the median ratio of alternating runs and its range,
runs on an overloaded machine flagged, PASS/FAIL per target of issue 17 (bench/verdict.py)."""

from bench.verdict import GIB, median_repeat, overloaded, repeat_ratios, spread, targets


def _step(seconds: float, peak_gib: float = 1.0, load: tuple[float, float] = (0.5, 1.8), ok: bool = True) -> dict:
    return {"ok": ok, "seconds": seconds, "peak_rss_bytes": int(peak_gib * GIB),
            "load_before": load[0], "load_after": load[1]}


def _size(lines: int, repeats: list[dict]) -> dict:
    return {"lines": lines, "bill_lines": lines, "repeats": repeats, "steps": {}}


TEN_M = _size(10_000_000, [
    {"floor": _step(80.0), "billrecon": _step(76.0, 2.3), "noop": _step(2.5)},                # 0.95
    {"floor": _step(70.0, load=(2.6, 3.1)), "billrecon": _step(77.0, 2.4), "noop": _step(2.9)},  # 1.10, loaded
    {"floor": _step(75.0), "billrecon": _step(60.0, 2.45), "noop": _step(3.4)},               # 0.80
])


def test_the_ratio_is_the_median_of_the_repeats_with_its_range():
    rows = repeat_ratios(TEN_M, cores=2)
    assert [round(row["ratio"], 4) for row in rows] == [0.95, 1.1, 0.8]
    assert [row["overloaded"] for row in rows] == [False, True, False]
    figures = spread([row["ratio"] for row in rows])
    assert (round(figures.median, 4), round(figures.low, 4), round(figures.high, 4), figures.count) == (
        0.95, 0.8, 1.1, 3)
    assert median_repeat(TEN_M, cores=2) == 0  # the first repeat's 0.95 is the middle one


def test_a_run_is_flagged_when_the_load_before_or_after_exceeds_the_cores():
    assert not overloaded(_step(1.0, load=(1.2, 2.0)), cores=2)  # equal to the cores: not above
    assert overloaded(_step(1.0, load=(2.1, 0.4)), cores=2)
    assert overloaded(_step(1.0, load=(0.3, 4.5)), cores=4.0)
    assert not overloaded({"ok": True, "seconds": 1.0}, cores=2)  # no load average on this system


def test_each_target_of_issue_17_passes_or_fails_on_the_10m_figures():
    results = {r["target"]: r for r in targets({"10M": TEN_M}, cores=2)}
    ratio = results["billrecon ≤ 1.0 × floor at 10M"]
    assert (ratio["status"], round(ratio["value"], 4)) == ("PASS", 0.95)
    assert ratio["shown"] == ("0.95× (median of 3, range 0.80–1.10×); 1 of 3 runs flagged: load above the cores")
    peak = results["billrecon peak RSS ≤ 2.5 GiB at 10M"]
    assert (peak["status"], peak["value"]) == ("PASS", int(2.45 * GIB))  # the largest of the three peaks
    noop = results["nightly run with nothing new ≤ 3 s at 10M"]
    assert (noop["status"], noop["value"], noop["shown"]) == ("PASS", 2.9, "2.9 s (median of 3, range 2.5–3.4 s)")


def test_a_target_missed_fails_and_a_failed_run_does_not_count():
    slow = _size(10_000_000, [
        {"floor": _step(70.0), "billrecon": _step(84.0, 2.6), "noop": _step(3.5)},     # 1.20
        {"floor": _step(70.0), "billrecon": _step(30.0, ok=False), "noop": _step(3.1)},  # billrecon failed
    ])
    results = {r["target"]: r["status"] for r in targets({"10M": slow}, cores=2)}
    assert results == {"billrecon ≤ 1.0 × floor at 10M": "FAIL", "billrecon peak RSS ≤ 2.5 GiB at 10M": "FAIL",
                       "nightly run with nothing new ≤ 3 s at 10M": "FAIL"}
    assert [round(row["ratio"], 4) for row in repeat_ratios(slow, cores=2)] == [1.2]


def test_without_the_10m_month_every_target_is_na_and_shows_the_largest_size_measured():
    one_m = _size(1_000_000, [{"floor": _step(8.0), "billrecon": _step(10.0, 1.5), "noop": _step(1.2)}])
    results = targets({"1M": one_m}, cores=2)
    assert [(r["status"], r["value"], r["shown"]) for r in results] == [
        ("n/a", None, "not measured at 10M; at 1M: 1.25× (1 run)"),
        ("n/a", None, "not measured at 10M; at 1M: 1.50 GiB (largest of 1)"),
        ("n/a", None, "not measured at 10M; at 1M: 1.2 s (1 run)"),
    ]
