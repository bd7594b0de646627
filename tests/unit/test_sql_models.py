"""The SQL models on an in-memory warehouse: agreed discounts, customer charges, margins."""

import json
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from pipelines.lib.sql_models import read_models, run_model, tables_read
from pipelines.lib.warehouse import SQL_DIR, ensure_schema
from tests.unit.warehouse_models import build_every_model

D = Decimal


@pytest.fixture
def con():
    con = duckdb.connect()
    ensure_schema(con)
    rules = [
        ("*", "*", "*", "0.05", "2026-01-01", None),
        ("*", "svc.obs", "*", "0.07", "2026-01-01", None),
        ("c1", "*", "*", "0.10", "2026-01-01", "2026-09-14"),
        ("c1", "*", "*", "0.12", "2026-09-15", None),          # c1's rate changes mid-month
        ("c1", "svc.ecs", "*", "0.15", "2026-01-01", None),
        ("c1", "svc.ecs", "res.gpu", "0.20", "2026-01-01", None),
    ]
    for i, r in enumerate(rules, start=1):
        con.execute("insert into staging.customer_discount values (?, ?, ?, ?, ?, ?, null, 'a.csv', ?, 'h', 'l')",
                    [*r, i])
    return con


def add_line(con, record, customer, service, resource, day, bill_type, official, discount, due,
             coupon="0", original=None):
    con.execute(
        """insert into staging.bill_line (bill_cycle, customer_id, customer_name, partner_id, bill_type,
               billing_mode, service_type_code, resource_type_code, trade_id, original_order_id, trade_time,
               trade_date_local, official_amount, discount_amount, amount_due, credit_amount, cash_coupon_amount,
               src_object, src_member, src_record, src_sha256, load_id)
           values (?, ?, ?, 'p0', ?, 1, ?, ?, ?, ?, ?::timestamptz, ?::date, ?, ?, ?, ?, ?,
                   ?, 'm1', ?, 'h', 'l')""",
        [day[:7], customer, customer.upper(), bill_type, service, resource, f"T{record}", original,
         f"{day} 02:00:00+00", day, official, discount, due, str(D(due) - D(coupon)), coupon, f"k{day[:7]}", record])


def rated(con, *cycles):
    """The rated lines of `cycles` (2026-09 by default), each cycle's refunds priced as the asset does."""
    run_model(con, "core", "customer_discount_rule")
    for cycle in cycles or ("2026-09",):
        run_model(con, "core", "refund_original_order", cycle)
        run_model(con, "core", "line_agreement", cycle)
    run_model(con, "core", "rated_bill_line")
    return {r[0]: r[1:] for r in con.execute(
        "select trade_id, discount_rate, customer_charge_amount, has_agreement from core.rated_bill_line").fetchall()}


def test_most_specific_rule_wins_and_dates_are_respected(con):
    add_line(con, 1, "c1", "svc.ecs", "res.gpu", "2026-09-03", "Expenditure", "100", "10", "90")
    add_line(con, 2, "c1", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "100", "10", "90")
    add_line(con, 3, "c1", "svc.obs", "res.bucket", "2026-09-03", "Expenditure", "100", "10", "90")
    add_line(con, 4, "c1", "svc.obs", "res.bucket", "2026-09-20", "Expenditure", "100", "10", "90")
    add_line(con, 5, "c2", "svc.obs", "res.bucket", "2026-09-03", "Expenditure", "100", "10", "90")
    add_line(con, 6, "c2", "svc.rds", "res.db", "2026-09-03", "Expenditure", "33.33333333", "0", "33.33333333")
    got = rated(con)
    assert got["T1"][:2] == (D("0.2"), D("80"))
    assert got["T2"][:2] == (D("0.15"), D("85"))
    assert got["T3"][:2] == (D("0.1"), D("90"))     # customer rule beats *+service
    assert got["T4"][:2] == (D("0.12"), D("88"))    # after the change date
    assert got["T5"][:2] == (D("0.07"), D("93"))
    # 33.33333333 × 0.95 = 31.6666666635 → rounded half away from zero at 8 places
    assert got["T6"][:2] == (D("0.05"), D("31.66666666"))


@pytest.mark.parametrize("official", [
    "0.00000010", "-0.00000010", "123.45678910", "999.99999999", "-999.99999999",  # 64-bit branch
    "1000", "1000.00000010", "-1000.00000010", "29700.12345678",                  # 128-bit branch
])
def test_a_charge_is_rounded_half_away_from_zero_on_either_side_of_the_64_bit_branch(con, official):
    # 0.95 × ...10 ends in a half unit at 8 places: 0.000000095 → 0.00000010, 950.000000095 → 950.00000010
    add_line(con, 1, "c2", "svc.rds", "res.db", "2026-09-03", "Expenditure", official, "0", official)
    expected = (D(official) * D("0.95")).quantize(D("0.00000001"), rounding=ROUND_HALF_UP)
    assert rated(con)["T1"][:2] == (D("0.05"), expected)


def test_the_agreement_applied_to_a_line_reads_as_words(con):
    add_line(con, 1, "c1", "svc.ecs", "res.gpu", "2026-09-03", "Expenditure", "100", "10", "90")
    add_line(con, 2, "c1", "svc.obs", "res.bucket", "2026-09-03", "Expenditure", "100", "10", "90")
    add_line(con, 3, "c2", "svc.obs", "res.bucket", "2026-09-03", "Expenditure", "100", "10", "90")
    add_line(con, 4, "c2", "svc.rds", "res.db", "2026-09-03", "Expenditure", "100", "10", "90")
    rated(con)
    labels = dict(con.execute("select trade_id, agreement_rule from core.rated_bill_line").fetchall())
    assert labels == {
        "T1": "customer c1, service svc.ecs, resource type res.gpu: 20 % off, from 2026-01-01",
        "T2": "customer c1, all services: 10 % off, from 2026-01-01 to 2026-09-14",
        "T3": "every customer, service svc.obs: 7 % off, from 2026-01-01",
        "T4": "every customer, all services: 5 % off, from 2026-01-01",
    }


def test_refunds_are_charged_back_and_adjustments_are_not_billed(con):
    add_line(con, 1, "c2", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "200", "20", "180", coupon="30")
    add_line(con, 2, "c2", "svc.ecs", "res.vm", "2026-09-04", "Refund", "-50", "-5", "-45", original="T1")
    add_line(con, 3, "c2", "svc.ecs", "res.vm", "2026-09-05", "Adjustment", "0", "0", "-7")
    rated(con)
    run_model(con, "marts", "customer_monthly_expenditure", "2026-09")
    row = con.execute(
        """select line_count, official_amount, amount_due, coupon_paid_amount, refund_amount, adjustment_amount,
                  customer_charge_amount, margin_amount from marts.customer_monthly_expenditure""").fetchall()
    # customer pays (200 − 50) × 0.95 = 142.5; partner owes HUAWEI 180 − 45 = 135 for it
    assert row == [(3, D("200"), D("180"), D("30"), D("-45"), D("-7"), D("142.5"), D("7.5"))]


def test_lines_without_any_rule_are_billed_at_list_price(con):
    con.execute("delete from staging.customer_discount")
    add_line(con, 1, "c3", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "100", "0", "100")
    assert rated(con)["T1"] == (D("0"), D("100"), False)


def test_rerunning_a_partition_replaces_it(con):
    add_line(con, 1, "c2", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "100", "0", "100")
    rated(con)
    run_model(con, "marts", "customer_monthly_expenditure", "2026-09")
    first = con.execute("select * from marts.customer_monthly_expenditure").fetchall()
    run_model(con, "marts", "customer_monthly_expenditure", "2026-09")
    assert con.execute("select * from marts.customer_monthly_expenditure").fetchall() == first


def share(charge: str, refund_due: str, original_due: str) -> Decimal:
    """charge × refund ÷ original, half away from zero at 8 places (the independent reading)."""
    return (D(charge) * D(refund_due) / D(original_due)).quantize(D("1e-8"), rounding=ROUND_HALF_UP)


def test_the_refund_of_issue_18_mirrors_what_the_customer_paid(con):
    # list 77.79; HUAWEI CLOUD's 10 % contract discount; the customer's agreed 7 %; HUAWEI refunds 35.8106265
    con.execute("insert into staging.customer_discount values ('c7', '*', '*', 0.07, '2026-01-01', null, null, "
                "'a.csv', 99, 'h', 'l')")
    add_line(con, 1, "c7", "svc.ecs", "res.vm", "2026-10-05", "Expenditure", "77.79", "7.779", "70.011")
    add_line(con, 2, "c7", "svc.ecs", "res.vm", "2026-10-20", "Refund", "-35.8106265", "0", "-35.8106265",
             original="T1")
    got = rated(con, "2026-10")
    assert got["T1"][1] == D("72.3447")
    assert got["T2"][1] == share("72.3447", "-35.8106265", "70.011")
    assert got["T2"][1].quantize(D("0.01"), rounding=ROUND_HALF_UP) == D("-37.00")   # not the −33.30 of before


def test_a_refund_is_priced_at_the_agreement_of_its_original_order_in_an_earlier_cycle(con):
    # c1's customer-wide rate is 0.10 up to 2026-09-14, then 0.12: the order is from before the change
    add_line(con, 1, "c1", "svc.rds", "res.db", "2026-09-03", "Expenditure", "100", "10", "90")
    add_line(con, 2, "c1", "svc.rds", "res.db", "2026-10-05", "Refund", "-30", "0", "-30", original="T1")
    add_line(con, 3, "c1", "svc.rds", "res.db", "2026-10-06", "Expenditure", "100", "10", "90")
    got = rated(con, "2026-09", "2026-10")
    assert got["T1"][:2] == (D("0.1"), D("90"))
    assert got["T3"][:2] == (D("0.12"), D("88"))
    # a third of what HUAWEI CLOUD charged is refunded: a third of the customer's 90, at 0.10
    assert got["T2"] == (D("0.1"), D("-30"), True)
    assert con.execute("select original_found_in, original_bill_cycle from core.refund_original_order").fetchall() \
        == [("bill_file", "2026-09")]


def test_a_refund_of_an_order_before_the_bill_history_is_priced_from_the_api_order(con):
    con.execute("""insert into staging.api_order (bill_cycle, fetched_at, order_id, customer_id, order_type,
                       official_amount, amount_after_discount, discount_amount, payment_time, src_snapshot,
                       src_sha256, src_record, load_id)
                   values ('2026-07', now(), 'O9', 'c2', 1, 200, 170, 30, '2026-07-31 17:00:00+00', 's', 'h', 1, 'l')""")
    add_line(con, 1, "c2", "svc.ecs", "res.vm", "2026-09-10", "Refund", "-85", "0", "-85", original="O9")
    got = rated(con)
    # paid on 2026-08-01 GMT+8; c2 has the '*' rate 0.05: 190 charged, half of it given back
    assert got["T1"] == (D("0.05"), D("-95"), True)
    assert con.execute("select original_found_in, original_trade_date_local::varchar from core.refund_original_order"
                       ).fetchall() == [("api_order", "2026-08-01")]


def test_a_refund_of_an_unknown_order_is_grossed_up_with_the_commercial_discount(con):
    con.execute("""insert into staging.api_business_discount (fetched_at, quoting_item_type, item_id,
                       service_type_code, discount_ratio, src_snapshot, src_sha256, src_record, load_id)
                   values (now(), 'CATEGORY_ITEM', 'i1', 'svc.ecs', 0.9, 's', 'h', 1, 'l'),
                          (now(), 'CATEGORY_ITEM', 'i2', 'svc.rds', 0.9, 's', 'h', 2, 'l'),
                          (now(), 'CATEGORY_ITEM', 'i3', 'svc.rds', 0.8, 's', 'h', 3, 'l')""")
    add_line(con, 1, "c2", "svc.ecs", "res.vm", "2026-09-10", "Refund", "-45", "0", "-45", original="O404")
    add_line(con, 2, "c2", "svc.rds", "res.db", "2026-09-10", "Refund", "-45", "0", "-45", original="O405")
    got = rated(con)
    # −45 was after HUAWEI's 10 %: −50 at list price, of which the customer (0.05) paid 47.50
    assert got["T1"] == (D("0.05"), D("-47.5"), True)
    # the quoting items of svc.rds disagree: no rate to gross up with, the refund is taken as the list price
    assert got["T2"] == (D("0.05"), D("-42.75"), True)


def test_a_refund_without_an_order_number_or_of_a_free_order(con):
    # no original order number (BILL.REFUND_WITHOUT_ORDER at staging): priced like an unknown order;
    # without the API's commercial discount, its amount due is taken as the list price
    add_line(con, 1, "c2", "svc.ecs", "res.vm", "2026-09-10", "Refund", "-20", "0", "-20")
    # an order HUAWEI CLOUD charged nothing for gives nothing back, whatever its list price
    add_line(con, 2, "c2", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "100", "100", "0")
    add_line(con, 3, "c2", "svc.ecs", "res.vm", "2026-09-12", "Refund", "0", "0", "0", original="T2")
    got = rated(con)
    assert got["T1"] == (D("0.05"), D("-19"), True)
    assert got["T3"] == (D("0.05"), D("0"), True)
    assert dict(con.execute("select original_order_id, original_found_in from core.refund_original_order"
                            ).fetchall()) == {None: "unknown", "T2": "bill_file"}


# ------------------------------------------------------------------------------------------ lineage

def test_the_tables_a_model_reads_are_parsed_from_its_sql_not_its_comments_or_ctes():
    sql = """-- materialized: table
-- marts.not_read: named in a comment only
with lines as (
    select * from staging.bill_line where bill_cycle in (select bill_cycle from core.open_month)
),

final as (
    select * from lines join "core"."current_customer" using (customer_id)
)

select * from final"""
    assert tables_read(sql) == {"staging.bill_line", "core.open_month", "core.current_customer"}


@pytest.mark.slow
def test_every_model_file_is_read_and_comes_after_the_models_it_reads():
    models = read_models()
    position = {model.table: index for index, model in enumerate(models)}
    assert set(position) == {f"{path.parent.name}.{path.stem}"
                             for layer in ("core", "marts") for path in (SQL_DIR / layer).glob("*.sql")}
    for model in models:
        for table in model.reads & position.keys():
            assert position[table] < position[model.table], (model.table, table)
    assert next(m for m in models if m.table == "marts.customer_monthly_expenditure").reads == {"core.rated_bill_line"}


def test_a_month_total_beyond_a_line_amount_is_exact_and_an_older_narrow_mart_is_widened(con):
    rated(con)
    run_model(con, "marts", "customer_monthly_expenditure", "2026-09")  # the table, empty
    money = [name for name, kind in con.execute(
        "select column_name, data_type from duckdb_columns() where table_name = 'customer_monthly_expenditure'"
    ).fetchall() if kind == "DECIMAL(38,8)"]
    assert "amount_due" in money and "margin_amount" in money
    for column in money:  # as an older version built it, holding another month
        con.execute(f"alter table marts.customer_monthly_expenditure alter column {column} type decimal(20, 8)")
    con.execute("insert into marts.customer_monthly_expenditure by name "
                "select '2026-08' as bill_cycle, 'c0' as customer_id, 1.5 as amount_due")
    largest = "999999999999.99999999"  # the largest line amount DECIMAL(20, 8) holds
    for record in (1, 2, 3):
        add_line(con, record, "c2", "svc.ecs", "res.vm", "2026-09-03", "Expenditure", largest, "0", largest)
    rated(con)
    run_model(con, "marts", "customer_monthly_expenditure", "2026-09")
    assert con.execute("select bill_cycle, amount_due, official_amount from marts.customer_monthly_expenditure "
                       "order by bill_cycle").fetchall() == [
        ("2026-08", D("1.5"), None), ("2026-09", 3 * D(largest), 3 * D(largest))]
    assert con.execute("select distinct data_type from duckdb_columns() where table_name = "
                       "'customer_monthly_expenditure' and column_name in (select unnest(?))", [money]
                       ).fetchall() == [("DECIMAL(38,8)",)]


def plan_nodes(con, sql):
    """Every operator of DuckDB's plan for `sql`."""
    def walk(node):
        yield node
        for child in node.get("children", []):
            yield from walk(child)
    return [node for root in json.loads(con.sql(f"explain (format json) {sql}").fetchall()[0][1])
            for node in walk(root)]


def test_a_stored_rated_lines_view_reads_one_cycle_s_lines_as_they_stream(tmp_path):
    # DuckDB 1.5.5 drops `not materialized` from a view it stores in a file: a CTE read twice would
    # copy every month of staging.bill_line before the query's filter, for every reader of the view
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con)
    add_line(con, 1, "c1", "svc.ecs", None, "2026-09-03", "Expenditure", "100", "0", "100")
    rated(con)
    run_model(con, "marts", "customer_bill_line")
    con.close()
    con = duckdb.connect(str(path), read_only=True)
    nodes = plan_nodes(con, "select * from marts.customer_bill_line where bill_cycle = '2026-09' "
                            "and customer_id >= 'c1'")
    scans = [node["extra_info"] for node in nodes if node["name"].strip() == "SEQ_SCAN"
             and node["extra_info"].get("Table", "").endswith("staging.bill_line")]
    assert len(scans) == 1  # the lines; their agreements are core.line_agreement's
    assert all("bill_cycle='2026-09'" in scan.get("Filters", "") for scan in scans)
    materialized = {node["extra_info"].get("CTE Name") for node in nodes if node["name"].strip() == "CTE"}
    assert materialized <= {"refund_originals", "agreements"}  # small: refunds, a cycle's keys
    assert [row[0] for row in con.execute("select trade_id from marts.customer_bill_line").fetchall()] == ["T1"]


def test_the_lines_are_rated_against_a_hash_table_of_their_keys_not_of_the_lines(con):
    """At ten million lines DuckDB built its hash table on the month's lines (spilling gigabytes)
    while the rules' side held a few hundred thousand keys: the rate lookup must build on the keys."""
    add_line(con, 1, "c1", "svc.ecs", "res.gpu", "2026-09-03", "Expenditure", "100", "10", "90")
    add_line(con, 2, "c2", "svc.obs", "res.bucket", "2026-09-04", "Expenditure", "100", "10", "90")
    # as at scale, many more rules than a line's customer has (other customers' agreements)
    con.execute("""insert into staging.customer_discount
                   select 'other' || n, 'svc.ecs', '*', 0.01, date '2026-01-01', null, null, 'a.csv', 100 + n, 'h', 'l'
                   from range(3000) as numbers(n)""")
    con.execute("""insert into staging.bill_line by name
                   select lines.* replace (lines.src_record + 2 * copies.n as src_record,
                                           lines.trade_id || '-' || copies.n as trade_id)
                   from staging.bill_line as lines, range(1, 20000) as copies(n)""")
    rated(con)
    nodes = plan_nodes(con, "select * from core.rated_bill_line where bill_cycle = '2026-09'")

    def reads_lines(node) -> bool:
        return node["extra_info"].get("Table", "").endswith("staging.bill_line") or any(
            reads_lines(child) for child in node.get("children", []))

    key_joins = [node for node in nodes if node["name"].strip() == "HASH_JOIN"
                 and any("resource_key" in condition for condition in node["extra_info"]["Conditions"])]
    assert len(key_joins) == 1
    probe, build = key_joins[0]["children"]
    assert reads_lines(probe) and not reads_lines(build)
    assert con.execute("select count(*), sum(customer_charge_amount) from core.rated_bill_line").fetchone() == (
        40_000, 20_000 * (D("80") + D("93")))


def test_a_stored_focus_view_reads_one_cycle_s_lines_as_they_stream(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con)
    add_line(con, 1, "c1", "svc.ecs", None, "2026-09-03", "Expenditure", "100", "0", "100")
    build_every_model(con, "2026-09")
    con.close()
    con = duckdb.connect(str(path), read_only=True)
    nodes = plan_nodes(con, """select * from marts.focus_customer_billing where "x_BillCycle" = '2026-09'""")
    scans = [node["extra_info"] for node in nodes if node["name"].strip() == "SEQ_SCAN"
             and node["extra_info"].get("Table", "").endswith("staging.bill_line")]
    assert scans and all(scan.get("Filters") for scan in scans)  # each scan filtered, none a copy of all months
    materialized = {node["extra_info"].get("CTE Name") for node in nodes if node["name"].strip() == "CTE"}
    assert materialized.isdisjoint({"lines", "bill_lines", "refund_lines", "order_lines"})  # rows: test_focus_sql.py


def test_a_warehouse_closed_before_line_agreements_existed_gets_them_for_every_month(con):
    """The rated-lines view reads core.line_agreement for every cycle: its first build covers the
    months already closed, or their lines would read as rated at no agreement."""
    add_line(con, 1, "c1", "svc.ecs", "res.gpu", "2026-08-03", "Expenditure", "100", "10", "90")
    add_line(con, 2, "c1", "svc.ecs", "res.gpu", "2026-09-03", "Expenditure", "100", "10", "90")
    con.execute("update staging.bill_line set bill_cycle = '2026-08' where trade_id = 'T1'")
    run_model(con, "core", "customer_discount_rule")
    run_model(con, "core", "refund_original_order", "2026-09")
    assert run_model(con, "core", "line_agreement", "2026-09") == 1
    run_model(con, "core", "rated_bill_line")
    assert con.execute("select bill_cycle, discount_rate, customer_charge_amount from core.rated_bill_line "
                       "order by 1").fetchall() == [("2026-08", D("0.2"), D("80")), ("2026-09", D("0.2"), D("80"))]
    # once the table exists, a build replaces its own cycle only
    con.execute("delete from core.line_agreement where bill_cycle = '2026-08'")
    run_model(con, "core", "line_agreement", "2026-09")
    assert con.execute("select bill_cycle from core.line_agreement").fetchall() == [("2026-09",)]
