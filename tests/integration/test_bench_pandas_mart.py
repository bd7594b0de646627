"""The benchmark's pandas mart (bench/pandas_mart.py) equals billrecon's
marts.customer_monthly_expenditure, refunds included, on a small world run as `make bench` runs it:
files from an inbox folder, no BSS API.

The world's first closed month came before the warehouse (`history_months=1`: no bill file), so
refunds find their original orders in their month's own bill file, in an earlier one (2026-09's
refunds of 2026-08's orders) or nowhere (2026-08's refund of a 2026-07 order: unknown, priced from
the refund's amount due). The pandas mart of each
billed month, built with the earlier billed months as its history, must agree with billrecon's to
the last of 8 decimals row by row (`verify_step`, what the benchmark runs), and the refunds must be
priced differently from the naive list price × (1 − agreed rate) of the refund's own date, so a
pandas mart without the refund rule would differ.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from bench.common import DISCOUNTS_KEY, bill_key
from bench.pandas_mart import (
    KEY,
    agreed_rates,
    build_mart,
    customer_charge_units,
    read_bill_lines,
    read_rules,
    verify_step,
)
from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
from pipelines.runner import run_cycle
from sandbox.world import WorldConfig, generate_world
from sandbox.writer import write_world

# seed 24: 2026-08 has refunds of orders of 2026-07 (unknown) and 2026-08, 2026-09 of 2026-08 and 2026-09
WORLD = WorldConfig(seed=24, customers=14, resellers=2, closed_months=3, history_months=1, first_month="2026-07",
                    lines_per_month=3000, usage_export_days=0, closing_month_exports=0)


@pytest.fixture(scope="module")
def closed(tmp_path_factory):
    """Every billed month run by billrecon as the benchmark runs it → (world, inbox folder, warehouse)."""
    world = generate_world(WORLD)
    root = tmp_path_factory.mktemp("bench-pandas-mart")
    inbox = root / "inbox"
    write_world(world, inbox)
    warehouse = root / "warehouse" / "billrecon.duckdb"
    resources = {"object_store": ObjectStoreResource(inbox_dir=str(inbox)),
                 "warehouse": WarehouseResource(path=str(warehouse)),
                 "reports": ReportsResource(out_dir=str(root / "reports")),
                 "bss_api": BssApiResource()}
    for month in world.billed_months:
        run = run_cycle(month, resources)
        assert run.success, f"{month}: {run.failure}"
    return world, inbox, warehouse


def pandas_mart(inbox, months: list[str], month: str):
    """The pandas mart of `month`, with the billed months before it as its bill history."""
    history = tuple(inbox / bill_key(earlier) for earlier in months if earlier < month)
    return build_mart(inbox / bill_key(month), inbox / DISCOUNTS_KEY, history)


def test_the_pandas_mart_equals_billrecons_row_by_row_with_refunds_of_every_origin(closed, tmp_path):
    world, inbox, warehouse = closed
    assert world.billed_months == ["2026-08", "2026-09"]
    found_in = {}
    for month in world.billed_months:
        parquet = tmp_path / f"{month}.parquet"
        pandas_mart(inbox, world.billed_months, month).to_parquet(parquet, index=False)
        verified = verify_step({"pandas_mart": str(parquet), "warehouse": str(warehouse), "bill_cycle": month})
        assert verified["quarantined_rows"] == 0
        assert verified["differing_rows"] == 0, (month, verified)
        assert verified["equal"], (month, verified["totals"])
        refund_total = verified["totals"]["customer_refund_amount"]
        assert refund_total["pandas"] == refund_total["billrecon"] and refund_total["pandas"] != "0E-8"
        found_in[month] = verified["refund_originals"]
    assert found_in == {"2026-08": {"bill_file": 4, "unknown": 1}, "2026-09": {"bill_file": 10}}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        across_months = con.execute("""select count(*) from core.refund_original_order
                                       where bill_cycle = '2026-09' and original_bill_cycle = '2026-08'""").fetchone()
    finally:
        con.close()
    assert across_months == (4,)


def test_the_refund_rule_changes_the_customer_charge_the_comparison_checks(closed):
    """Refunds priced naively (list price × (1 − the rate of the refund's own date)) would differ:
    the row-by-row comparison would fail on a pandas mart without the refund rule."""
    world, inbox, _ = closed
    month = world.billed_months[-1]
    mart = pandas_mart(inbox, world.billed_months, month).set_index(["customer_id", "service_type_code"])
    lines = read_bill_lines(inbox / bill_key(month))
    refunds = lines[lines["bill_type"] == "Refund"].rename(columns={"trade_date": "agreement_date"})
    refunds = refunds.merge(agreed_rates(refunds[KEY].drop_duplicates(), read_rules(inbox / DISCOUNTS_KEY)),
                            on=KEY, how="left")
    refunds["naive"] = customer_charge_units(refunds["official_amount"].to_numpy(),
                                             refunds["rate"].fillna(0).to_numpy(dtype=np.int64))
    naive = refunds.groupby(["customer_id", "service_type_code"])["naive"].sum()
    priced = mart.loc[naive.index, "customer_refund_amount"]
    differing = [key for key, units in naive.items() if priced[key].scaleb(8) != units]
    assert len(naive) > 0 and len(differing) > 0, "no refund whose price depends on the refund rule"
