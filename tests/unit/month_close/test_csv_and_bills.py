"""The CSV exports of the marts and the per-customer bills."""

from __future__ import annotations

import csv

from reports import data as marts_data
from reports import render_month_close
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
    assert [r["rule_id"] for r in quarantine] == ["AMOUNT_IDENTITY", "BILL_CYCLE_FORMAT"]
    assert quarantine[1]["bill_cycle"] == ""


def test_bills_streamed_one_customer_range_per_query_are_the_same_files(warehouse, tmp_path, monkeypatch):
    # a product name with line breaks: the batch's CSV text is cut at row ends, not at every LF
    warehouse.execute("UPDATE marts.customer_bill_line SET product_name = 'two\nline\r\nproduct' "
                      "WHERE trade_id = 'T-201'")
    render_month_close(warehouse, CYCLE, tmp_path / "whole", notes=["note"])
    monkeypatch.setattr(marts_data, "LINES_PER_RANGE", 1)  # every customer is a range of its own
    assert len(marts_data.customer_ranges(warehouse, CYCLE, 1)[1]) == 3
    ranged = render_month_close(warehouse, CYCLE, tmp_path / "ranged", notes=["note"])
    assert file_bytes(tmp_path / "whole") == file_bytes(tmp_path / "ranged")
    acme = read_bill(ranged.customer_bills[ACME[0]])
    assert [row["Order/Transaction No."] for row in acme[:2]] == ["T-200", "T-201"]
    assert acme[2]["Trade Time (GMT+8)"] == "TOTAL"
    assert acme[1]["Product"] == "two\nline\r\nproduct"
    assert D(acme[2]["Charge (USD)"]) == D("1900") + D("117.28394956")
