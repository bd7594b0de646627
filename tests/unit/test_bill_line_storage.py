"""staging.bill_line stores each text column with the compression its DDL names (sql/staging/bill_line.sql),
not the one DuckDB would try every method to find, also in a warehouse opened again later."""

import duckdb

from pipelines.lib.warehouse import ensure_schema

ROWS = 150_000  # more than one row group (122,880 rows)

# customer ids all different (left to itself DuckDB stores them with FSST) and trade ids of three
# values (a dictionary): the opposite of what the DDL names for each
LINES = f"""
    select '2026-10' as bill_cycle, 'customer-' || i as customer_id, 'Expenditure' as bill_type,
           1::smallint as billing_mode, 'hws.service.type.ec2' as service_type_code, 'trade-' || (i % 3) as trade_id,
           timestamptz '2026-10-01 00:00:00+00' as trade_time, date '2026-10-01' as trade_date_local,
           1.5::decimal(20, 8) as official_amount, 0::decimal(20, 8) as discount_amount,
           1.5::decimal(20, 8) as amount_due, 'customerBill/customerBill_202610.tar.gz' as src_object,
           'member-1.csv' as src_member, i as src_record, repeat('a', 64) as src_sha256, 'load-1' as load_id
    from range({ROWS}) as r(i)"""


def _compressions(con: duckdb.DuckDBPyConnection, table: str, column: str) -> set[str]:
    return {row[0] for row in con.execute(
        "select distinct compression from pragma_storage_info($table) "
        "where column_name = $column and segment_type = 'VARCHAR'", {"table": table, "column": column}).fetchall()}


def test_bill_line_text_columns_are_stored_as_the_ddl_names_them(tmp_path):
    path = tmp_path / "billrecon.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con)
    con.close()
    con = duckdb.connect(str(path))  # the choice is kept in the warehouse's catalogue
    con.execute(f"insert into staging.bill_line by name {LINES}")
    con.execute(f"create table plain as {LINES}")  # the same lines, DuckDB choosing
    con.execute("checkpoint")

    assert _compressions(con, "staging.bill_line", "customer_id") == {"Dictionary"}
    assert _compressions(con, "staging.bill_line", "trade_id") == {"FSST"}
    assert _compressions(con, "plain", "customer_id") == {"FSST"}
    assert _compressions(con, "plain", "trade_id") == {"Dictionary"}
    # storage only: every value reads back as written
    assert con.execute("select count(*) from (select customer_id, trade_id from staging.bill_line "
                       "except all select customer_id, trade_id from plain)").fetchone() == (0,)
    assert con.execute("select count(distinct customer_id), count(distinct trade_id) "
                       "from staging.bill_line").fetchone() == (ROWS, 3)
