"""The CSV exports of the marts and the per-customer bills."""

from __future__ import annotations

import csv
import re

import pyarrow.parquet as pq
import pytest

from reports import data as marts_data
from reports import render_month_close
from schemas.rules import RULES
from tests.unit.month_close.pack_warehouse import (
    ACME,
    AGREEMENTS_FILE,
    CHINESE,
    CYCLE,
    ECS,
    EXPENDITURE,
    FORMULA,
    MARCH_FILE,
    D,
    file_bytes,
    mart_charge_by_customer,
    read_bill,
)


def test_each_customer_bill_adds_up_to_the_mart(report, warehouse):
    expected = mart_charge_by_customer(warehouse)
    assert set(report.customer_bills) == set(expected)
    assert report.customer_bills[FORMULA[0]].name == "cust_003.csv"
    for customer_id, path in report.customer_bills.items():
        rows = read_bill(path)
        *lines, total = rows
        assert total["Trade Time (GMT+8)"] == "TOTAL"
        assert sum(D(line["Charge (USD)"]) for line in lines) == expected[customer_id]
        assert D(total["Charge (USD)"]) == expected[customer_id]
        assert "amount_due" not in ",".join(rows[0])  # the partner's cost stays internal


def test_bill_text_is_neutralised_and_numbers_are_not(report):
    rows = read_bill(report.customer_bills[FORMULA[0]])
    assert [row["Resource Name"] for row in rows[:-1]] == ["'=cmd|' /C calc'!A0", "'-backup"]
    refund = next(row for row in read_bill(report.customer_bills[CHINESE[0]])
                  if row["Bill Type"] == "Refund")
    assert refund["Charge (USD)"] == "-90.00000000"


def _mart_lines(con) -> list[tuple]:
    return con.execute("SELECT * FROM marts.customer_bill_line WHERE bill_cycle = ? "
                       "ORDER BY customer_id, trade_time_local, trade_id, src_member, src_record", [CYCLE]).fetchall()


def test_the_all_lines_parquet_file_holds_every_line_of_the_mart_typed(report, warehouse):
    path = report.bill_lines_parquet
    assert path.name == "customer_bill_line.parquet"
    rows = warehouse.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    assert rows == _mart_lines(warehouse)  # same rows, same order, Decimal amounts to the 8th decimal
    charged = warehouse.execute("SELECT sum(customer_charge_amount), count(*) FROM read_parquet(?)",
                                [str(path)]).fetchone()
    assert charged == (sum(mart_charge_by_customer(warehouse).values()), len(rows))
    types = dict(warehouse.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
                                   [str(path)]).fetchall())
    assert [types[c] for c in ("official_amount", "customer_charge_amount", "discount_rate", "src_record")] == [
        "DECIMAL(20,8)", "DECIMAL(20,8)", "DECIMAL(9,6)", "BIGINT"]
    # readers filtering on the customer skip row groups by their statistics; a line's own id has no
    # dictionary (as many values as lines) and no statistics
    group = pq.ParquetFile(path).metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    customer, trade = columns["customer_id"], columns["trade_id"]
    assert customer.is_stats_set and customer.statistics.min == min(row[1] for row in rows)
    assert "RLE_DICTIONARY" in customer.encodings and customer.has_dictionary_page
    assert not trade.is_stats_set and not trade.has_dictionary_page


def test_the_all_lines_csv_is_written_only_when_the_month_fits_a_spreadsheet(warehouse, tmp_path, monkeypatch):
    from reports import csv_export

    lines = len(_mart_lines(warehouse))
    out = tmp_path / CYCLE
    monkeypatch.setattr(csv_export, "ALL_LINES_CSV_MAX_ROWS", lines)  # exactly at the limit: written
    at_limit = render_month_close(warehouse, CYCLE, out)
    with at_limit.csv_by_mart["customer_bill_line"].open(encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == lines
    assert "and in <code>customer_bill_line.csv</code>" in at_limit.html.read_text(encoding="utf-8")

    monkeypatch.setattr(csv_export, "ALL_LINES_CSV_MAX_ROWS", lines - 1)  # one line more than a sheet holds
    above = render_month_close(warehouse, CYCLE, out)
    assert not (out / "customer_bill_line.csv").exists()  # the earlier, smaller month's copy is gone too
    assert "customer_bill_line" not in above.csv_by_mart
    assert warehouse.execute("SELECT count(*) FROM read_parquet(?)", [str(above.bill_lines_parquet)]
                             ).fetchone() == (lines,)
    for customer_id, expected in mart_charge_by_customer(warehouse).items():  # the bills are all there
        assert D(read_bill(above.customer_bills[customer_id])[-1]["Charge (USD)"]) == expected
    page = above.html.read_text(encoding="utf-8").split('id="all-lines-files"')[1].split("</span>")[0]
    page = re.sub(r"\s+", " ", page)
    assert f"is written only for a month of at most {lines - 1:,} lines" in page
    assert not [p for p in out.rglob("*.tmp")]


def test_mart_csvs_keep_full_precision(report):
    assert set(report.csv_by_mart) == {"customer_monthly_expenditure", "customer_bill_line",
                                       "data_quality", "findings", "quarantine", "restatement"}
    with report.csv_by_mart["customer_monthly_expenditure"].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(EXPENDITURE)
    acme_ecs = next(r for r in rows if r["customer_id"] == ACME[0] and
                    r["service_type_code"] == ECS[0])
    assert acme_ecs["official_amount"] == "123.45678901"
    assert acme_ecs["truncated_amount"] == "0.00000000"
    formula = next(r for r in rows if r["customer_id"] == FORMULA[0])
    assert formula["customer_name"] == "'" + FORMULA[1]
    with report.csv_by_mart["data_quality"].open(encoding="utf-8") as handle:
        quality = list(csv.DictReader(handle))
    assert {r["object_key"] for r in quality} == {MARCH_FILE, AGREEMENTS_FILE}
    assert quality[0]["landed_at"] == "2026-03-01 01:00:00+00:00"  # agreements sort first
    with report.csv_by_mart["quarantine"].open(encoding="utf-8") as handle:
        quarantine = list(csv.DictReader(handle))
    assert [r["rule_id"] for r in quarantine] == ["AMOUNT_IDENTITY", "FILE.PARSE.CYCLE"]
    assert quarantine[1]["bill_cycle"] == ""
    # what to do, from the warehouse's rules catalogue, beside the reason; none for a rule id it lacks
    assert list(quarantine[0])[-3:] == ["reason", "what_to_do", "raw_record"]
    assert [r["what_to_do"] for r in quarantine] == ["", RULES["FILE.PARSE.CYCLE"].action]


def test_bills_streamed_one_customer_range_per_query_are_the_same_files(warehouse, tmp_path, monkeypatch):
    # a product name with line breaks: the batch's CSV text is cut at row ends, not at every LF
    warehouse.execute("UPDATE marts.customer_bill_line SET product_name = 'two\nline\r\nproduct' "
                      "WHERE trade_id = 'T-201'")
    render_month_close(warehouse, CYCLE, tmp_path / "whole", notes=["note"])
    monkeypatch.setattr(marts_data.memory, "lines_per_range", lambda limit: 1)  # every customer is a range of its own
    assert len(marts_data.customer_ranges(warehouse, CYCLE, 1)[1]) == 3
    ranged = render_month_close(warehouse, CYCLE, tmp_path / "ranged", notes=["note"])
    assert file_bytes(tmp_path / "whole") == file_bytes(tmp_path / "ranged")
    acme = read_bill(ranged.customer_bills[ACME[0]])
    assert [row["Order/Transaction No."] for row in acme[:2]] == ["T-200", "T-201"]
    assert acme[2]["Trade Time (GMT+8)"] == "TOTAL"
    assert acme[1]["Product"] == "two\nline\r\nproduct"
    assert D(acme[2]["Charge (USD)"]) == D("1900") + D("117.28394956")


def test_the_parquet_writer_s_thread_is_handed_arrow_tables_only(warehouse, tmp_path, monkeypatch):
    """polars locks a frame while converting it (holding the GIL): the thread converting a batch the pack
    went on reading deadlocked a month-close of a million lines. The thread gets Arrow tables only."""
    import threading

    import polars as pl
    import pyarrow as pa

    from reports import csv_export
    from reports.pack_lines import PackLines

    batches = PackLines.batches
    monkeypatch.setattr(PackLines, "batches", lambda lines: batches(lines, batch_rows=2))
    handed = []
    write = csv_export._ParquetLines._write

    def recorded(self, rows):
        handed.append((type(rows), threading.current_thread().name.startswith("customer-bill-line-parquet")))
        return write(self, rows)

    monkeypatch.setattr(csv_export._ParquetLines, "_write", recorded)
    report = render_month_close(warehouse, CYCLE, tmp_path / CYCLE)
    assert len(handed) == -(-len(_mart_lines(warehouse)) // 2)  # every batch of two lines
    assert set(handed) == {(pa.Table, True)}
    assert pq.read_table(report.bill_lines_parquet).num_rows == len(_mart_lines(warehouse))
    with (pytest.raises(TypeError, match="Arrow table, not DataFrame"),
          csv_export._ParquetLines(tmp_path / "x.parquet", pa.schema([])) as refusing):
        refusing.write(pl.DataFrame())


@pytest.mark.parametrize("batch_rows", [1, 250_000])  # the error raised at the next batch, or at the end
def test_an_error_writing_the_parquet_file_stops_the_pack_and_keeps_the_file_before_it(
        warehouse, tmp_path, monkeypatch, batch_rows):
    from reports import csv_export
    from reports.pack_lines import PackLines

    out = tmp_path / CYCLE
    before = render_month_close(warehouse, CYCLE, out).bill_lines_parquet.read_bytes()
    batches = PackLines.batches
    monkeypatch.setattr(PackLines, "batches", lambda lines: batches(lines, batch_rows=batch_rows))
    written = []

    def write_then_fail(self, rows):  # on the Parquet writer's thread: a disk that fills up
        written.append(rows.num_rows)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(csv_export._ParquetLines, "_write", write_then_fail)
    with pytest.raises(OSError, match="No space left on device"):
        render_month_close(warehouse, CYCLE, out)
    assert written == [batch_rows if batch_rows == 1 else len(_mart_lines(warehouse))]
    assert (out / "customer_bill_line.parquet").read_bytes() == before
    assert not [path for path in out.rglob("*.tmp")]


@pytest.mark.parametrize("batch_rows", [1, 250_000])  # the error met while the next batch is formatted, or at the end
def test_an_error_writing_a_bill_stops_the_pack_and_keeps_that_bill_as_it_was(
        warehouse, tmp_path, monkeypatch, batch_rows):
    import threading

    from reports import csv_export
    from reports.pack_lines import PackLines

    out = tmp_path / CYCLE
    before = render_month_close(warehouse, CYCLE, out).customer_bills
    kept = before[FORMULA[0]].read_bytes()
    warehouse.execute("UPDATE marts.customer_bill_line SET product_name = 'renamed'")  # every bill changes
    batches = PackLines.batches
    monkeypatch.setattr(PackLines, "batches", lambda lines: batches(lines, batch_rows=batch_rows))
    writers = set()
    write = csv_export._OpenBill.write

    def fail_for_the_last_customer(self, lines):  # a disk that fills up at the last customer's bill
        writers.add(threading.current_thread().name.split("_")[0])
        if self.customer_id == FORMULA[0]:
            raise OSError(28, "No space left on device")
        return write(self, lines)

    monkeypatch.setattr(csv_export._OpenBill, "write", fail_for_the_last_customer)
    with pytest.raises(OSError, match="No space left on device"):
        render_month_close(warehouse, CYCLE, out)
    assert writers == {"customer-bills"}  # written beside the formatting, not on the caller's thread
    assert before[FORMULA[0]].read_bytes() == kept
    for customer_id in (CHINESE[0], ACME[0]):  # the bills before it were completed, with their totals
        rows = read_bill(before[customer_id])
        assert {row["Product"] for row in rows[:-1]} == {"renamed"} and rows[-1]["Trade Time (GMT+8)"] == "TOTAL"
    assert not [path for path in out.rglob("*.tmp")]
