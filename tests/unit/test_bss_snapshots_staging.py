"""API snapshots (immutable files recorded in landing.api_snapshots) and their staging: typing,
quarantine with rule ids, findings, history by snapshot date, DDL that matches the models."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from decimal import Decimal

import pytest

from pipelines.lib.bss.datasets import DATASETS, SCOPE_FIELD, Pulled
from pipelines.lib.bss.records import STAGING, model_dtypes
from pipelines.lib.bss.snapshots import current_snapshot, newest_per_snapshot_date, read_snapshot, save_snapshot
from pipelines.lib.bss.staging import stage_snapshot
from pipelines.lib.warehouse import connect, ensure_schema, transaction

UTC = dt.UTC
LINEAGE = {"src_snapshot", "src_sha256", "src_record", "load_id"}


@pytest.fixture
def con(tmp_path):
    connection = connect(tmp_path / "wh.duckdb")
    ensure_schema(connection)
    yield connection
    connection.close()


def land(con, tmp_path, name, records, cycle=None, at=dt.datetime(2026, 10, 3, 1, 0, tzinfo=UTC)):
    pulled = Pulled(DATASETS[name], cycle, records, {"params": {"cycle": cycle}, "page_size": 100}, pages=1)
    return save_snapshot(con, tmp_path, pulled, started_at=at - dt.timedelta(seconds=5), fetched_at=at,
                         requests=1, retries=0, load_id="run-1")


def stage(con, tmp_path, name, snapshot):
    with transaction(con):
        return stage_snapshot(con, tmp_path, DATASETS[name], snapshot, "run-1")


def test_a_snapshot_is_an_immutable_file_with_its_request_and_exact_amounts(con, tmp_path):
    records = [{"bill_cycle": "2026-09", "consume_amount": Decimal("140.12345678"), "refunds": Decimal("-30"),
                "adjustments": Decimal("0E-8"), "initial_amount_due": Decimal("110.12345678"), "currency": "USD"}]
    snapshot = land(con, tmp_path, "partner_monthly_bill", records, "2026-09")
    path = tmp_path / snapshot.path
    assert snapshot.path.startswith("api/partner_monthly_bill/20261003T010000000000Z_") and path.exists()
    assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    document = json.loads(path.read_text())
    assert document["route"] == "GET /v2/bills/partner-bills/postpaid-bill-summary"
    assert document["request"] == {"params": {"cycle": "2026-09"}, "page_size": 100}
    assert document["fetched_at"] == "2026-10-03T01:00:00.000000Z" and document["record_count"] == 1
    assert document["records"][0]["consume_amount"] == "140.12345678"
    assert document["records"][0]["adjustments"] == "0.00000000"
    assert not list(path.parent.glob(".incoming-*"))
    row = con.execute("select dataset, bill_cycle, snapshot_date, record_count, sha256 from landing.api_snapshots"
                      ).fetchone()
    assert row == ("partner_monthly_bill", "2026-09", dt.date(2026, 10, 3), 1, snapshot.sha256)


def test_the_newest_snapshot_is_current_and_a_changed_file_is_refused(con, tmp_path):
    first = land(con, tmp_path, "resellers", [{"indirect_partner_id": "r1"}], at=dt.datetime(2026, 10, 1, tzinfo=UTC))
    second = land(con, tmp_path, "resellers", [{"indirect_partner_id": "r2"}], at=dt.datetime(2026, 10, 2, tzinfo=UTC))
    assert current_snapshot(con, DATASETS["resellers"], None).path == second.path
    assert read_snapshot(tmp_path, first)["records"] == [{"indirect_partner_id": "r1"}]
    os.chmod(tmp_path / second.path, 0o644)
    (tmp_path / second.path).write_text("{}")
    with pytest.raises(ValueError, match="does not match its recorded sha256"):
        read_snapshot(tmp_path, current_snapshot(con, DATASETS["resellers"], None))


def _order(order_id, **changes):
    order = {"order_id": order_id, "customer_id": "c1", "service_type_code": "hws.service.type.ec2",
             "status": 5, "order_type": 1, "official_amount": "100.5", "amount_after_discount": "80.25",
             "measure_id": 1, "currency": "USD", "payment_time": "2026-09-02T09:38:45Z",
             "amount_info": {"discounts": [{"discount_type": "605", "discount_amount": "10.125"},
                                           {"discount_type": "700", "discount_amount": "10.125"}],
                             "coupon_amount": "0", "flexipurchase_coupon_amount": "5.5"},
             "agent_pay_info": {"is_agent_pay": False}, SCOPE_FIELD: "r1"}
    order.update(changes)
    return order


def test_a_record_failing_several_columns_is_quarantined_for_the_first_in_column_order(con, tmp_path):
    """The order id comes before the customer in the order's columns: a record missing both is
    quarantined for its order id, one row with one reason."""
    snapshot = land(con, tmp_path, "orders", [_order("o1"), _order(None, customer_id=None)], "2026-09")
    result = stage(con, tmp_path, "orders", snapshot)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    assert con.execute("select record_number, rule_id, reason from audit.quarantine").fetchall() == [
        (2, "API.REQUIRED", "order_id: empty – required field is missing or empty")]


def test_bad_records_are_quarantined_with_rule_ids_and_the_rest_loads_exactly(con, tmp_path):
    records = [
        _order("o1"),
        _order("o2", official_amount="12.123456789"),                      # 9 decimal places
        _order("o3", customer_id=None),                                    # required
        _order("o1"),                                                      # the same order twice
        _order("o5", measure_id=3),                                        # amounts in cents
        _order("o6", payment_time="02/09/2026"),                           # not UTC text
        "not an object",
        _order("o8", amount_info={"discounts": [{"discount_type": "60X", "discount_amount": "1"}]}),
    ]
    snapshot = land(con, tmp_path, "orders", records, "2026-09")
    result = stage(con, tmp_path, "orders", snapshot)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (8, 1, 7)
    quarantined = dict(con.execute("select record_number, rule_id from audit.quarantine order by 1").fetchall())
    assert quarantined == {2: "API.PARSE.MONEY", 3: "API.REQUIRED", 4: "API.DUPLICATE_RECORD",
                           5: "API.MONEY_UNIT", 6: "API.PARSE.TIME", 7: "API.NOT_AN_OBJECT", 8: "API.FORMAT"}
    order = con.execute("""select order_id, indirect_partner_id, official_amount, amount_after_discount,
                                  discount_amount, cash_coupon_amount, voucher_amount, discount_types, payment_time,
                                  bill_cycle, src_record from staging.api_order""").fetchall()
    assert order == [("o1", "r1", Decimal("100.50000000"), Decimal("80.25000000"), Decimal("20.25000000"),
                      Decimal("5.50000000"), Decimal("0E-8"), "605;700",
                      dt.datetime(2026, 9, 2, 9, 38, 45, tzinfo=UTC), "2026-09", 1)]
    discounts = con.execute("select order_id, discount_seq, discount_type, discount_amount "
                            "from staging.api_order_discount order by discount_seq").fetchall()
    assert discounts == [("o1", 1, "605", Decimal("10.125")), ("o1", 2, "700", Decimal("10.125"))]
    loads = con.execute("select source, object_key, bill_cycle, rows_read, rows_loaded, rows_quarantined, status "
                        "from audit.loads").fetchall()
    assert loads == [("api:orders", snapshot.path, "2026-09", 8, 1, 7, "quarantined_rows")]


def test_a_new_pull_of_a_cycle_replaces_that_cycle_only(con, tmp_path):
    stage(con, tmp_path, "orders", land(con, tmp_path, "orders", [_order("a"), _order("b")], "2026-08"))
    stage(con, tmp_path, "orders", land(con, tmp_path, "orders", [_order("c")], "2026-09"))
    stage(con, tmp_path, "orders", land(con, tmp_path, "orders", [_order("d")], "2026-09",
                                        at=dt.datetime(2026, 10, 4, tzinfo=UTC)))
    rows = con.execute("select bill_cycle, order_id from staging.api_order order by 1, 2").fetchall()
    assert rows == [("2026-08", "a"), ("2026-08", "b"), ("2026-09", "d")]
    assert con.execute("select count(*) from audit.loads where bill_cycle = '2026-09'").fetchone()[0] == 1


def test_slowly_changing_data_keeps_one_copy_per_snapshot_date(con, tmp_path):
    def budget(amount):
        return [{"customer_id": "c1", "budget_amount": amount, "used_amount": "1", "budget_type": "MONTHLY",
                 "measure_id": 1, "currency": "USD", SCOPE_FIELD: None}]

    day1 = land(con, tmp_path, "budgets", budget("100"), at=dt.datetime(2026, 10, 1, 17, tzinfo=UTC))  # 2 Oct GMT+8
    day2_early = land(con, tmp_path, "budgets", budget("200"), at=dt.datetime(2026, 10, 2, 17, tzinfo=UTC))
    day2_late = land(con, tmp_path, "budgets", budget("300"), at=dt.datetime(2026, 10, 3, 15, tzinfo=UTC))
    assert [s.path for s in newest_per_snapshot_date(con, DATASETS["budgets"])] == [day1.path, day2_late.path]
    for snapshot in (day1, day2_early, day2_late):
        stage(con, tmp_path, "budgets", snapshot)
    rows = con.execute("select snapshot_date, budget_amount from staging.api_budget order by 1").fetchall()
    assert rows == [(dt.date(2026, 10, 2), Decimal("100")), (dt.date(2026, 10, 3), Decimal("300"))]
    assert con.execute("select count(*) from audit.loads where source = 'api:budgets'").fetchone()[0] == 2


def test_amount_identities_are_findings_and_a_wrong_cycle_is_quarantined(con, tmp_path):
    bill = {"bill_cycle": "2026-09", "consume_amount": "140", "refunds": "-30", "adjustments": "-20",
            "initial_amount_due": "91", "tax_amount": "10", "currency": "USD"}
    result = stage(con, tmp_path, "partner_monthly_bill", land(con, tmp_path, "partner_monthly_bill", [bill], "2026-09"))
    assert (result.rows_loaded, result.findings_count, result.status) == (1, 1, "warning")
    assert con.execute("select rule_id, expected, actual, difference_amount from audit.findings").fetchone() == (
        "API.PARTNER_BILL_IDENTITY", Decimal("90"), Decimal("91"), Decimal("1"))
    other = stage(con, tmp_path, "partner_monthly_bill",
                  land(con, tmp_path, "partner_monthly_bill", [bill], "2026-10", at=dt.datetime(2026, 11, 6, tzinfo=UTC)))
    assert other.rows_quarantined == 1
    assert con.execute("select rule_id from audit.quarantine").fetchone()[0] == "API.CYCLE_MISMATCH"


def test_credit_strings_become_decimals_and_monthly_sums_pivot_their_payments(con, tmp_path):
    credit = {"consumption_quota": "30000.00", "amount": "1500.00", "coupon_amount": "250.00",
              "due_amount": "5250.17", "unbilled_amount": "812.5", "used_consumption_quota": "4312.67",
              "measure_id": 1, "currency": "USD"}
    stage(con, tmp_path, "partner_credit", land(con, tmp_path, "partner_credit", [credit]))
    assert con.execute("select due_amount, used_consumption_quota from staging.api_partner_credit").fetchone() == (
        Decimal("5250.17"), Decimal("4312.67"))
    assert con.execute("select count(*) from audit.findings").fetchone()[0] == 0
    monthly = {"customer_id": "c1", "cloud_service_type": "hws.service.type.ec2", "bill_type": "1",
               "charge_mode": "3", "amount": "-12.5", "measure_id": 1, SCOPE_FIELD: None, "currency": "USD",
               "account_details": [{"balance_type": "BALANCE_TYPE_DEBIT", "amount": "-10", "bill_type": "1"},
                                   {"balance_type": "BALANCE_TYPE_RCASH_COUPON", "amount": "-2.5", "bill_type": "1"}]}
    stage(con, tmp_path, "customer_monthly_sums", land(con, tmp_path, "customer_monthly_sums", [monthly], "2026-09"))
    row = con.execute("""select bill_type_name, amount, cash_amount, cash_coupon_amount, voucher_amount
                         from staging.api_customer_monthly_sum""").fetchone()
    assert row == ("Refund", Decimal("-12.5"), Decimal("-10"), Decimal("-2.5"), Decimal("0"))


@pytest.mark.parametrize("name", sorted(STAGING))
def test_every_staging_table_has_exactly_the_columns_of_its_model_plus_lineage(con, name):
    for table in STAGING[name].tables:
        columns = {r[0] for r in con.execute(f"describe {table.table}").fetchall()}
        assert columns == set(model_dtypes(table.model)) | LINEAGE, table.table
