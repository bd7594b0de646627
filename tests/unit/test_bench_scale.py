"""The scale bench's arithmetic on given numbers (throughput, speed-up against one account, the lake's
cost over DuckDB files, the printed table) and its check that every account's month landed."""

from pathlib import Path

import duckdb
import pytest

from bench.common import BILL_CYCLE
from bench.scale import BenchFailure, landed, month_counts, summarise, table_lines

LINES = 1_000_000
GIB = 1 << 30


def batch(mode: str, partners: int, wall: float, children: list[tuple[float, int]], ok: bool = True) -> dict:
    return {"mode": mode, "partners": partners, "wall_seconds": wall, "ok": ok, "load_before": 1.0,
            "load_after": 2.5, "children": [{"partner": f"partner-{i}", "seconds": seconds, "peak_rss_bytes": rss,
                                             "exit_code": 0, "log": "x.log"}
                                            for i, (seconds, rss) in enumerate(children, 1)]}


BATCHES = [
    batch("lake", 2, 80.0, [(78.0, 2 * GIB), (80.0, 3 * GIB)]),
    batch("files", 1, 40.0, [(40.0, 2 * GIB)]),
    batch("lake", 1, 50.0, [(50.0, 2 * GIB)]),
    batch("files", 2, 64.0, [(60.0, GIB), (64.0, 2 * GIB)]),
    batch("files", 4, 100.0, [(90.0, GIB)] * 4, ok=False),  # a failed batch is left out
]


def test_throughput_speed_up_and_the_lake_over_files():
    rows = summarise(BATCHES, LINES)

    assert [(row["partners"], row["mode"]) for row in rows] == [(1, "lake"), (1, "files"), (2, "lake"), (2, "files")]
    by = {(row["partners"], row["mode"]): row for row in rows}
    assert by[(1, "files")]["lines_per_second"] == 25_000.0
    assert by[(2, "files")]["lines_per_second"] == 31_250.0      # 2 M lines in 64 s
    assert by[(2, "files")]["speed_up"] == 1.25                  # 31,250 / 25,000
    assert by[(2, "lake")]["speed_up"] == 1.25                   # 25,000 / 20,000: against the lake's own N = 1
    assert by[(1, "lake")]["lake_over_files"] == 1.25            # 50 s / 40 s
    assert by[(2, "lake")]["lake_over_files"] == 1.25            # 80 s / 64 s
    assert by[(2, "files")]["lake_over_files"] is None
    assert by[(2, "lake")]["peak_rss_bytes"] == 3 * GIB          # the largest child's
    assert by[(2, "lake")]["child_seconds"] == (78.0, 80.0)


def test_the_speed_up_is_not_available_without_a_batch_of_one_account():
    [row] = summarise([batch("files", 2, 64.0, [(60.0, GIB), (64.0, GIB)])], LINES)
    assert row["speed_up"] is None and row["lake_over_files"] is None
    assert "n/a ×" in table_lines([row])[1]


def test_the_table():
    lines = table_lines(summarise(BATCHES, LINES))

    assert lines[0].split() == ["N", "warehouse", "wall", "s", "lines/s", "speed-up", "each", "run", "s",
                                "peak", "RSS/run", "load", "before/after", "lake/files"]
    assert lines[3].split() == ["2", "lake", "80.0", "25,000", "1.25", "×", "78.0–80.0", "3,072", "MiB",
                                "1.0/2.5", "1.25", "×"]
    assert lines[4].split() == ["2", "files", "64.0", "31,250", "1.25", "×", "60.0–64.0", "2,048", "MiB",
                                "1.0/2.5"]


def warehouse_file(path: Path, lines: int, adjustments: int, quarantined: int) -> None:
    path.parent.mkdir(parents=True)
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema audit")
    con.execute("create table marts.customer_bill_line as select ? as bill_cycle from range(?)", [BILL_CYCLE, lines])
    con.execute("""create table marts.focus_partner_cost as
                   select ? as "x_BillCycle", 'Adjustment' as "x_BillType" from range(?)
                   union all select ?, 'Expenditure' from range(?)""", [BILL_CYCLE, adjustments, BILL_CYCLE, lines])
    con.execute("create table audit.loads (source varchar, bill_cycle varchar, rows_quarantined bigint)")
    con.execute("insert into audit.loads values ('customerBill', ?, ?), ('customerBill', ?, null), "
                "('agreements', null, 7)", [BILL_CYCLE, quarantined, BILL_CYCLE])
    con.close()


def test_every_account_must_hold_the_month_lines_less_those_quarantined_and_the_adjustments(tmp_path):
    warehouse_file(tmp_path / "warehouse" / "partner-1" / "billrecon.duckdb", 93, 2, 5)
    warehouse_file(tmp_path / "warehouse" / "partner-2" / "billrecon.duckdb", 94, 0, 5)
    run = batch("files", 2, 10.0, [(9.0, GIB), (10.0, GIB)])

    with pytest.raises(BenchFailure, match=r"partner-2's month 2026-09 has 94 lines .* expected 100 generated − 5 "
                                           r"quarantined − 0 adjustments"):
        landed(run, tmp_path, None, 100)
    assert landed({**run, "children": run["children"][:1]}, tmp_path, None, 100) == {
        "partner-1": {"lines": 93, "adjustments": 2, "quarantined": 5}}


def test_a_failed_child_fails_the_batch(tmp_path):
    run = batch("files", 1, 10.0, [(9.0, GIB)])
    run["children"][0]["exit_code"] = 1
    with pytest.raises(BenchFailure, match="partner-1 exited 1 "):
        landed(run, tmp_path, None, 100)


def test_counts_per_account_in_one_lake_shaped_table():
    con = duckdb.connect()
    con.execute("create schema marts; create schema audit")
    con.execute("""create table marts.customer_bill_line as select * from
                   (values ('a', ?), ('a', ?), ('b', ?), ('b', '2026-08')) t(partner_account_id, bill_cycle)""",
                [BILL_CYCLE] * 3)
    con.execute("""create table marts.focus_partner_cost as select * from
                   (values ('a', ?, 'Adjustment'), ('a', ?, 'Refund'), ('b', '2026-08', 'Adjustment'))
                   t(partner_account_id, "x_BillCycle", "x_BillType")""", [BILL_CYCLE] * 2)
    con.execute("create table audit.loads (partner_account_id varchar, source varchar, bill_cycle varchar, "
                "rows_quarantined bigint)")
    con.execute("insert into audit.loads values ('a', 'customerBill', ?, 3), ('c', 'customerBill', ?, 4)",
                [BILL_CYCLE, BILL_CYCLE])
    assert month_counts(con, "partner_account_id") == {"a": (2, 1, 3), "b": (1, 0, 0), "c": (0, 0, 4)}
