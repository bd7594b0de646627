"""Refunds priced from their original orders (docs/reconciliation.md, "Refunds"), end to end.

The world's first two closed months, 2026-07 and 2026-08, came before the warehouse
(`WorldConfig.history_months`): no bill file is delivered for them, but their orders and the
later refunds of those orders exist, and the BSS emulator serves the orders. The pipeline runs
2026-08 (which pulls that cycle's orders from the API; there is no bill file), 2026-09, 2026-10
and the open month. So refunds of 2026-09's and 2026-10's orders find them in the bill files,
refunds of 2026-08's orders in the API's orders, and refunds of 2026-07's orders nowhere: those
are grossed up and raise REFUND.ORIGINAL_ORDER_UNKNOWN. Every refund line is compared with the
independent Decimal reading of the written files and the API records (reconciliation_oracle.py).
"""

from __future__ import annotations

import csv
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from pipelines.lib.rerun import RUN_RECORD
from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
from pipelines.runner import run_cycle
from sandbox.bss import BssEmulator
from sandbox.objectstore import make_s3_client, upload_tree
from sandbox.world import WorldConfig, generate_world
from sandbox.writer import write_world
from tests.unit.reconciliation_oracle import WorldReading, agreed_rate, share

# seed 24 has refunds of orders of every kind: of 2026-07 and 2026-08, and in 2026-10 of 2026-09's
WORLD = WorldConfig(seed=24, customers=14, resellers=2, closed_months=4, history_months=2, first_month="2026-07",
                    lines_per_month=3000, usage_export_days=3)
API_ONLY_MONTH = "2026-08"   # run for its API orders; its bill file was never delivered
CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def query(path: str, sql: str, parameters: list | None = None) -> list[tuple]:
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(sql, parameters or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def world_files(tmp_path_factory):
    world = generate_world(WORLD)
    world.api_data.prepare()
    root = tmp_path_factory.mktemp("refund-world")
    write_world(world, root)
    return world, root


def _resources(s3_server, bucket: str, root, bss_api: BssApiResource) -> dict:
    return {
        "object_store": ObjectStoreResource(endpoint_url=s3_server.endpoint_url, bucket=bucket,
                                            access_key=s3_server.access_key, secret_key=s3_server.secret_key),
        "warehouse": WarehouseResource(path=str(root / "wh" / "billrecon.duckdb")),
        "reports": ReportsResource(out_dir=str(root / "reports")),
        "bss_api": bss_api,
    }


@pytest.fixture(scope="module")
def closed(world_files, s3_server, tmp_path_factory):
    """Every month from API_ONLY_MONTH on, run with the BSS API; → (world, files, resources, reading)."""
    world, files = world_files
    upload_tree(make_s3_client(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key), "refunds-api",
                files)
    root = tmp_path_factory.mktemp("refund-runs")
    with BssEmulator(world, throttle=False) as emulator:
        bss_api = BssApiResource(endpoint=emulator.endpoint_url, access_key=emulator.access_key,
                                 secret_key=emulator.secret_key, domain_id=emulator.domain_id)
        resources = _resources(s3_server, "refunds-api", root, bss_api)
        months = [API_ONLY_MONTH, *world.billed_months, world.open_month]
        for month in months:
            run = run_cycle(month, resources)
            assert run.success, f"{month}: {run.failure}"
    reading = WorldReading(files, world.api_data, world.billed_months, world.open_month, pulled_months=months)
    return world, files, resources, reading


def test_every_refund_line_is_billed_its_share_of_the_original_orders_charge(closed):
    _, _, resources, reading = closed
    path = resources["warehouse"].path
    rules = reading.rules_by_customer()
    refunds = query(path, """select bill_cycle, trade_id, customer_charge_amount, refund_original_found_in
                             from core.rated_bill_line where bill_type = 'Refund' order by all""")
    lines = {(cycle, line["trade_id"]): line for cycle, cycle_lines in reading.lines.items() for line in cycle_lines}
    assert len(refunds) == sum(line["bill_type"] == "Refund" for line in lines.values())
    found_in, repriced = Counter(), 0
    for cycle, trade_id, charge, where in refunds:
        line = lines[(cycle, trade_id)]
        expected = reading.customer_charge(cycle, line, rules)
        assert cents(charge) == cents(expected) and charge == expected, (cycle, trade_id, where)
        original = reading.original_order(cycle, line)
        found_in[where] += 1
        assert where == ("unknown" if original is None else original["found_in"])
        if original is not None and agreed_rate(rules, original) != agreed_rate(rules, line):
            repriced += 1   # the agreement changed between order and refund: the order's applies
    # every way of finding the original order is exercised
    assert set(found_in) == {"bill_file", "api_order", "unknown"}, found_in
    assert repriced > 0


def test_a_refund_found_in_an_earlier_bill_file_mirrors_that_lines_customer_charge(closed):
    _, _, resources, _ = closed
    rows = query(resources["warehouse"].path, """
        select refund.bill_cycle, refund.amount_due, refund.customer_charge_amount,
               original.bill_cycle, original.amount_due, original.customer_charge_amount
        from core.rated_bill_line as refund
        join core.rated_bill_line as original
          on original.bill_type = 'Expenditure' and original.trade_id = refund.original_order_id
         and original.customer_id = refund.customer_id
        where refund.bill_type = 'Refund'""")
    assert any(cycle > original_cycle for cycle, _, _, original_cycle, _, _ in rows), "a refund across months"
    for _, due, charge, _, original_due, original_charge in rows:
        assert charge == share(original_charge, due, original_due)
        # the margin on the refund mirrors the margin on the refunded share of the order
        assert cents(charge - due) == cents(share(original_charge - original_due, due, original_due))


def test_orders_known_to_neither_side_raise_exactly_one_finding_each(closed):
    world, _, resources, reading = closed
    path = resources["warehouse"].path
    unknown = reading.refunds_of_unknown_orders()
    assert unknown, "the world refunds orders of 2026-07, which no run has seen"
    rows = query(path, """select rule_id, bill_cycle, customer_id, reference, difference_amount
                          from marts.reconciliation_findings where rule_id = 'REFUND.ORIGINAL_ORDER_UNKNOWN'""")
    assert len(rows) == len(unknown) and set(rows) == unknown
    orders = {order_id: order for order_id, order in
              ((o["order_id"], o) for o in world.orders.iter_rows(named=True))}
    assert {orders[reference]["bill_cycle"] for _, _, _, reference, _ in rows} == {"2026-07"}
    # and nothing else is found in this clean world
    everything = {(r[0], r[1], r[2], r[3], None if r[4] is None else str(cents(r[4])))
                  for r in query(path, "select rule_id, bill_cycle, customer_id, reference, difference_amount "
                                       "from marts.reconciliation_findings")}
    assert everything == reading.findings()


def test_the_customer_bills_and_the_expenditure_mart_follow(closed):
    _, _, resources, _ = closed
    path = resources["warehouse"].path
    by_group = query(path, """
        select mart.bill_cycle, mart.customer_id, mart.service_type_code, mart.customer_refund_amount,
               coalesce(sum(rated.customer_charge_amount), 0)
        from marts.customer_monthly_expenditure as mart
        left join core.rated_bill_line as rated
          on rated.bill_type = 'Refund' and rated.bill_cycle = mart.bill_cycle
         and rated.customer_id = mart.customer_id and rated.service_type_code = mart.service_type_code
        group by all""")
    assert any(refunded != 0 for *_, refunded, _ in by_group)
    assert all(refunded == summed for *_, refunded, summed in by_group)
    bill_lines = query(path, """select bill.bill_cycle, bill.customer_id, bill.trade_id, bill.customer_charge_amount,
                                       rated.customer_charge_amount
                                from marts.customer_bill_line as bill
                                join core.rated_bill_line as rated using (bill_cycle, src_member, src_record)
                                where bill.bill_type = 'Refund'""")
    assert bill_lines and all(shown == rated for *_, shown, rated in bill_lines)
    cycle, customer, trade_id, charge, _ = bill_lines[0]
    bill = resources["reports"].out_dir + f"/{cycle}/customer_bills/{customer}.csv"
    with open(bill, encoding="utf-8-sig", newline="") as handle:
        shown = {row["Order/Transaction No."]: row["Charge (USD)"] for row in csv.DictReader(handle)}
    assert Decimal(shown[trade_id]) == charge


def test_an_earlier_month_loaded_later_reprices_the_refunds_when_their_month_runs_again(
        world_files, s3_server, tmp_path):
    """Files only: 2026-10 runs before 2026-09's bill file is loaded, so its refunds of 2026-09's
    orders are unknown; once 2026-09 is loaded, running 2026-10 again bills them from the orders."""
    world, files = world_files
    upload_tree(make_s3_client(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key), "refunds-late",
                files)
    resources = _resources(s3_server, "refunds-late", tmp_path, BssApiResource())
    path = resources["warehouse"].path
    earlier, later = world.billed_months

    def refunds() -> dict[str, tuple]:
        return {row[0]: row[1:] for row in query(
            path, """select trade_id, original_order_id, refund_original_found_in, customer_charge_amount
                     from core.rated_bill_line where bill_cycle = ? and bill_type = 'Refund'""", [later])}

    def builds() -> dict[str, object]:
        return dict(query(path, "select model, built_at from audit.model_builds where bill_cycle = ?", [later]))

    assert run_cycle(later, resources).success
    before, first_builds = refunds(), builds()
    assert set(first_builds) == {"core.refund_original_order", "core.line_agreement", "core.rated_bill_line",
                                 "marts.customer_monthly_expenditure", RUN_RECORD}  # and the run itself
    assert run_cycle(earlier, resources).success
    assert builds() == first_builds, "loading the earlier month leaves the later one alone until it runs"
    earlier_orders = {order for (order,) in query(
        path, "select trade_id from staging.bill_line where bill_cycle = ? and bill_type = 'Expenditure'", [earlier])}
    assert run_cycle(later, resources).success
    after, rebuilt = refunds(), builds()
    assert all(rebuilt[model] > first_builds[model] for model in first_builds), "repriced, not skipped"
    moved = {trade_id for trade_id, (order, _, _) in after.items() if order in earlier_orders}
    assert moved, "the later month refunds orders of the earlier one"
    assert {before[t][1] for t in moved} == {"unknown"} and {after[t][1] for t in moved} == {"bill_file"}
    assert any(before[t][2] != after[t][2] for t in moved)
    unknown = {order for order, where, _ in after.values() if where == "unknown"}
    assert query(path, """select count(*) from marts.reconciliation_findings
                          where rule_id = 'REFUND.ORIGINAL_ORDER_UNKNOWN' and bill_cycle = ?""",
                 [later])[0][0] == len(unknown)
    assert run_cycle(later, resources).success
    assert builds() == rebuilt, "a run with nothing new skips the refunds, the rated lines and the mart again"
