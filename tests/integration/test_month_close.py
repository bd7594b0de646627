"""The month close end to end: dagster.materialize against the local S3 server and a DuckDB file,
checked against an independent Python computation from the generated CSV files."""


import dagster as dg
import duckdb
import pytest

from pipelines.jobs import nightly_job
from pipelines.partitions import partition_key
from pipelines.runner import all_assets
from schemas.rules import RULES
from tests.integration.conftest import pipeline_resources
from tests.integration.expected import (
    expected_expenditure,
    member_row_counts,
    read_bill_lines,
    read_rules,
)

CYCLE = "2026-09"
OPEN_MONTH = "2026-10"  # the small world's: usage exports, no bill file
MONEY_COLUMNS = ["official_amount", "discount_amount", "amount_due", "coupon_paid_amount", "refund_amount",
                 "adjustment_amount", "customer_charge_amount", "margin_amount"]


@pytest.fixture
def closed_month(tmp_path, s3_server, bucket):
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket=bucket)
    result = dg.materialize(all_assets(), partition_key=partition_key(CYCLE), resources=resources)
    assert result.success
    con = duckdb.connect(resources["warehouse"].path, read_only=True)
    yield con, resources, result
    con.close()


def test_every_mart_total_equals_the_independent_computation(closed_month, world_dir):
    con, _, _ = closed_month
    lines = read_bill_lines(world_dir / "customerBill" / "customerBill_202609.tar.gz")
    expected = expected_expenditure(lines, read_rules(world_dir / "agreements" / "customer_discounts.csv"))
    rows = con.execute(
        f"""select customer_id, service_type_code, line_count, {', '.join(MONEY_COLUMNS)}
            from marts.customer_monthly_expenditure where bill_cycle = ?""", [CYCLE]).fetchall()
    got = {(r[0], r[1]): dict(zip(["line_count", *MONEY_COLUMNS], r[2:])) for r in rows}
    assert set(got) == set(expected)
    for key, totals in expected.items():
        for column in ["line_count", *MONEY_COLUMNS]:
            assert got[key][column] == totals[column], (key, column)
    # the world has refunds, adjustments and coupon-paid lines, so those columns are really exercised
    assert sum(t["refund_amount"] for t in expected.values()) < 0
    assert sum(t["adjustment_amount"] for t in expected.values()) != 0
    assert sum(t["coupon_paid_amount"] for t in expected.values()) > 0


def test_rows_read_equal_loaded_plus_quarantined_for_every_member(closed_month, world_dir):
    con, _, result = closed_month
    counts = member_row_counts(world_dir / "customerBill" / "customerBill_202609.tar.gz")
    assert len(counts) > 1  # the small world is split into several members
    loads = {r[0]: r[1:] for r in con.execute(
        """select member, rows_read, rows_loaded, rows_quarantined from audit.loads
           where source = 'customerBill' and bill_cycle = ?""", [CYCLE]).fetchall()}
    assert {m: v[0] for m, v in loads.items()} == counts
    assert all(read == loaded + quarantined for read, loaded, quarantined in loads.values())
    staged = con.execute("select count(*) from staging.bill_line where bill_cycle = ?", [CYCLE]).fetchone()[0]
    assert staged == sum(counts.values())
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("stg_bill_lines", "rows_read_equal_loaded_plus_quarantined")] is True
    assert checks[("customer_monthly_expenditure", "totals_equal_staged_lines")] is True


def test_the_run_writes_the_rules_catalogue_into_the_warehouse(closed_month):
    con, _, _ = closed_month
    assert con.execute("select rule_id, area, severity, title, action from audit.rules order by rule_id").fetchall() \
        == sorted((r.rule_id, r.area, r.severity, r.title, r.action) for r in RULES.values())


def test_reports_are_written_for_the_cycle(closed_month):
    _, resources, _ = closed_month
    folder = resources["reports"].cycle_dir(CYCLE)
    html = (folder / f"month_close_{CYCLE}.html").read_text(encoding="utf-8")
    assert (folder / f"month_close_{CYCLE}.xlsx").stat().st_size > 0
    assert "BSS partner API not configured" in html
    con = closed_month[0]
    customers = [r[0] for r in con.execute(
        "select distinct customer_id from marts.customer_bill_line where bill_cycle = ?", [CYCLE]).fetchall()]
    assert sorted(p.stem for p in (folder / "customer_bills").glob("*.csv")) == sorted(customers)
    # the FOCUS files are written only when asked (BILLRECON_FOCUS_EXPORTS=1, `billrecon demo`)
    assert not list(folder.glob("focus_*"))


def test_second_run_loads_nothing_and_gives_identical_marts(tmp_path, s3_server, bucket):
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket=bucket)
    assert dg.materialize(all_assets(), partition_key=partition_key(CYCLE), resources=resources).success
    snapshot = _marts(resources["warehouse"].path)
    loads_before = _count(resources["warehouse"].path, "select count(*) from audit.loads")
    second = dg.materialize(all_assets(), partition_key=partition_key(CYCLE), resources=resources)
    assert second.success
    staged = second.asset_materializations_for_node("stg_bill_lines")[0].metadata["note"].value
    assert staged == "unchanged"
    assert _marts(resources["warehouse"].path) == snapshot
    assert _count(resources["warehouse"].path, "select count(*) from audit.loads") == loads_before
    report = resources["reports"].cycle_dir(CYCLE) / f"month_close_{CYCLE}.html"
    assert report.exists()


def _marts(path):
    con = duckdb.connect(path, read_only=True)
    try:
        return {t: con.execute(f"select * from marts.{t} order by all").fetchall()
                for t in ("customer_monthly_expenditure", "customer_bill_line")}
    finally:
        con.close()


def _count(path, sql):
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_a_chinese_world_with_bom_gives_the_same_kind_of_totals(tmp_path, s3_server):
    from dataclasses import replace

    from sandbox.objectstore import make_s3_client, upload_tree
    from sandbox.world import generate_world
    from sandbox.writer import write_world
    from tests.integration.conftest import SMALL_WORLD

    config = replace(SMALL_WORLD, seed=12, header_language="zh", bill_type_language="zh", utf8_bom=True,
                     closed_months=1)
    root = tmp_path / "world-zh"
    write_world(generate_world(config), root)
    upload_tree(make_s3_client(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key), "zh-world", root)
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket="zh-world")
    cycle = config.first_month
    assert dg.materialize(all_assets(), partition_key=partition_key(cycle), resources=resources).success
    lines = read_bill_lines(root / "customerBill" / f"customerBill_{cycle.replace('-', '')}.tar.gz", language="zh")
    expected = expected_expenditure(lines, read_rules(root / "agreements" / "customer_discounts.csv"))
    con = duckdb.connect(resources["warehouse"].path, read_only=True)
    try:
        got = con.execute("""select sum(amount_due), sum(refund_amount), sum(customer_charge_amount), sum(line_count),
                                    count(*) filter (where regexp_matches(customer_name, '[\u4e00-\u9fff]'))
                             from marts.customer_monthly_expenditure""").fetchone()
        quarantined = con.execute("select count(*) from audit.quarantine").fetchone()[0]
    finally:
        con.close()
    assert quarantined == 0
    assert got[:4] == (sum(t["amount_due"] for t in expected.values()),
                       sum(t["refund_amount"] for t in expected.values()),
                       sum(t["customer_charge_amount"] for t in expected.values()),
                       sum(t["line_count"] for t in expected.values()))
    assert got[4] > 0  # Chinese customer names survived


def test_a_first_nightly_refresh_on_a_new_warehouse_builds_the_open_months_flash(tmp_path, s3_server, bucket):
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket=bucket)
    result = dg.materialize(all_assets(), selection=nightly_job.selection, partition_key=partition_key(OPEN_MONTH),
                            resources=resources)
    assert result.success
    built = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    # the bill file and the incentive statement are left to the month close
    assert not built & {"landed_bill_file", "stg_bill_lines", "landed_incentive_statement", "stg_incentive_statement"}
    assert {"stg_usage_lines", "daily_spend", "budget_status", "restatement", "daily_flash_report"} <= built
    con = duckdb.connect(resources["warehouse"].path, read_only=True)
    try:
        newest = con.execute("select max(export_date) from staging.usage_line where bill_cycle = ?",
                             [OPEN_MONTH]).fetchone()[0]
        staged = con.execute("select sum(official_amount), count(*) from staging.usage_line "
                             "where bill_cycle = ? and export_date = ?", [OPEN_MONTH, newest]).fetchone()
        assert staged[1] > 0
        assert con.execute("select sum(official_amount), sum(line_count) from marts.daily_spend "
                           "where bill_cycle = ? and source = 'usage_export'", [OPEN_MONTH]).fetchone() == staged
    finally:
        con.close()
    assert (tmp_path / "reports" / OPEN_MONTH / f"daily_flash_{newest}.html").exists()
