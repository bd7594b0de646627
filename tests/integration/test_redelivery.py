"""Re-delivered monthly files replace the month and are reported; the newest usage export wins even
when exports arrive out of order; running a month twice changes nothing."""

from decimal import Decimal

import dagster as dg
import duckdb

from pipelines.partitions import partition_key
from pipelines.runner import all_assets
from tests.fixtures.bill_files import good_row, member_csv, write_archive
from tests.integration.conftest import pipeline_resources
from tests.integration.test_bad_input import _inbox

CYCLE = "2026-09"
KEY = "customerBill/customerBill_202609.tar.gz"


def _materialize(resources):
    result = dg.materialize(all_assets(), partition_key=partition_key(CYCLE), resources=resources)
    assert result.success
    return result


def _query(resources, sql, params=()):
    con = duckdb.connect(resources["warehouse"].path, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_a_redelivered_bill_file_replaces_the_month_and_the_change_is_reported(tmp_path):
    inbox = _inbox(tmp_path, {"customerBill_202609_0001.csv": member_csv([
        good_row(trade_id="A1"), good_row(trade_id="A2"), good_row(trade_id="A3")])})
    resources = pipeline_resources(tmp_path, inbox=inbox)
    _materialize(resources)
    write_archive(inbox / KEY, {"customerBill_202609_0001.csv": member_csv([
        good_row(trade_id="A1"),
        good_row(trade_id="A2", official_amount="20", discount_amount="2", amount_due="18", credit_amount="18"),
        good_row(trade_id="A4", customer_id="cust-2"),
    ])})
    _materialize(resources)
    assert _query(resources, "select count(*) from landing.objects where object_key = ?", [KEY]) == [(2,)]
    assert _query(resources, "select trade_id, amount_due from staging.bill_line order by 1") == [
        ("A1", Decimal("9")), ("A2", Decimal("18")), ("A4", Decimal("9"))]
    changes = _query(resources, """select trade_id, change, previous_amount_due, new_amount_due, amount_due_delta
                                   from audit.restatement_line order by trade_id""")
    assert changes == [
        ("A2", "changed", Decimal("9"), Decimal("18"), Decimal("9")),
        ("A3", "removed", Decimal("9"), None, Decimal("-9")),
        ("A4", "added", None, Decimal("9"), Decimal("9")),
    ]
    by_customer = _query(resources, """select customer_id, lines_added, lines_removed, lines_changed, amount_due_delta
                                       from marts.restatement order by customer_id""")
    assert by_customer == [("cust-1", 0, 1, 1, Decimal("0")), ("cust-2", 1, 0, 0, Decimal("9"))]
    assert _query(resources, "select sum(amount_due) from marts.customer_monthly_expenditure") == [(Decimal("36"),)]


def _usage_archive(inbox, export_day: str, amounts: list[str]):
    rows = [good_row(trade_id=f"U{i}", official_amount=a, discount_amount="0", amount_due=a)
            for i, a in enumerate(amounts)]
    key = f"customerUsage/customerUsageV2_202609_{export_day}.tar.gz"
    write_archive(inbox / key, {f"customerUsageV2_202609_{export_day}_00000001.csv": member_csv(rows)})


def test_the_newest_usage_export_wins_and_a_late_older_one_never_rolls_back(tmp_path):
    inbox = _inbox(tmp_path, {"customerBill_202609_0001.csv": member_csv([good_row()])})
    resources = pipeline_resources(tmp_path, inbox=inbox)
    _usage_archive(inbox, "20260905", ["1", "2"])
    _materialize(resources)
    assert _query(resources, "select export_date::varchar, count(*), sum(official_amount) from staging.usage_line "
                             "group by 1") == [("2026-09-05", 2, Decimal("3"))]
    _usage_archive(inbox, "20260907", ["1", "2", "4"])
    _materialize(resources)
    # an export for an earlier day arrives late: it must not replace the newer one
    _usage_archive(inbox, "20260906", ["1", "2", "3"])
    _materialize(resources)
    assert _query(resources, "select export_date::varchar, count(*), sum(official_amount) from staging.usage_line "
                             "group by 1") == [("2026-09-07", 3, Decimal("7"))]


def test_running_a_month_twice_gives_byte_identical_marts_and_reports(tmp_path, s3_server, bucket):
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket=bucket)
    _materialize(resources)
    folder = resources["reports"].cycle_dir(CYCLE)
    first = {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    marts = _query(resources, "select * from marts.customer_monthly_expenditure order by all")
    _materialize(resources)
    second = {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    assert len(first) > 5 and first == second
    assert _query(resources, "select * from marts.customer_monthly_expenditure order by all") == marts


def test_a_run_with_nothing_new_does_not_republish_the_warehouse(tmp_path, s3_server, bucket):
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket=bucket)
    _materialize(resources)
    published = resources["warehouse"].published
    first = published.stat().st_ino, published.read_bytes()
    second = _materialize(resources)
    assert second.asset_materializations_for_node("published_warehouse")[0].metadata["copied"].value is False
    assert (published.stat().st_ino, published.read_bytes()) == first


def test_a_run_with_nothing_new_does_not_render_the_pack_again(tmp_path, s3_server, bucket):
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket=bucket)
    _materialize(resources)
    html = resources["reports"].cycle_dir(CYCLE) / f"month_close_{CYCLE}.html"
    first = html.stat().st_mtime_ns
    second = _materialize(resources)
    assert second.asset_materializations_for_node("month_close_report")[0].metadata["unchanged"].value is True
    assert html.stat().st_mtime_ns == first
    # a changed input (here: a re-delivered agreements file) renders the pack again
    con = duckdb.connect(resources["warehouse"].path)
    con.execute("update audit.loads set sha256 = 'changed' where source = 'agreements'")
    con.close()
    third = _materialize(resources)
    assert third.asset_materializations_for_node("month_close_report")[0].metadata["unchanged"].value is False


def test_a_run_with_nothing_new_skips_the_bill_line_models_and_a_new_agreement_rebuilds_them(
        tmp_path, s3_server, bucket):
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket=bucket)
    first = _materialize(resources)
    built = first.asset_materializations_for_node("customer_monthly_expenditure")[0].metadata
    assert "skipped" not in built
    second = _materialize(resources)
    for asset in ("core_rated_bill_line", "customer_monthly_expenditure"):
        metadata = second.asset_materializations_for_node(asset)[0].metadata
        assert "inputs unchanged" in metadata["skipped"].value
    skipped = second.asset_materializations_for_node("customer_monthly_expenditure")[0].metadata
    # what the skipped run reports is what the build measured
    assert skipped["rows"].value == built["rows"].value and skipped["margin"].value == built["margin"].value
    (check,) = [e for e in second.get_asset_check_evaluations() if e.check_name == "totals_equal_staged_lines"]
    assert check.passed
    # the mart is checked to still hold the rows: a deleted cycle is rebuilt
    con = duckdb.connect(resources["warehouse"].path)
    con.execute("delete from marts.customer_monthly_expenditure where bill_cycle = ?", [CYCLE])
    con.close()
    third = _materialize(resources)
    assert "skipped" not in third.asset_materializations_for_node("customer_monthly_expenditure")[0].metadata
    assert _query(resources, "select count(*) from marts.customer_monthly_expenditure where bill_cycle = ?",
                  [CYCLE])[0][0] == built["rows"].value
    # another agreements delivery is another input: both models are built again
    con = duckdb.connect(resources["warehouse"].path)
    con.execute("update audit.loads set sha256 = 'changed' where source = 'agreements'")
    con.close()
    fourth = _materialize(resources)
    for asset in ("core_rated_bill_line", "customer_monthly_expenditure"):
        assert "skipped" not in fourth.asset_materializations_for_node(asset)[0].metadata
