"""The object keys of the deliveries (pipelines/lib/object_keys.py): the month a key names is read
as a BillCycle, and a key naming no month is ignored like any other key that is not a delivery."""

from datetime import date

import duckdb
import pytest

from pipelines.lib.landing import record_ignored_bill_objects
from pipelines.lib.object_keys import bill_file_cycle, bill_file_key, parse_usage_key, usage_export_prefix
from pipelines.lib.object_store import ObjectInfo
from pipelines.lib.warehouse import ensure_schema
from schemas.bill_cycle import BillCycle


def test_the_bill_file_key_names_its_cycle_and_reads_back():
    assert bill_file_key(BillCycle(2026, 12)) == "customerBill/customerBill_202612.tar.gz"
    assert bill_file_cycle("customerBill/customerBill_202612.tar.gz") == BillCycle(2026, 12)
    assert usage_export_prefix(BillCycle(2027, 1)) == "customerUsage/customerUsageV2_202701_"


@pytest.mark.parametrize("key", ["customerBill/customerBill_2026-12.tar.gz", "customerBill/copy_of_customerBill_202611.tar.gz",
                                 "customerBill/customerBill_202612.tar.gz.bak", "customerUsage/customerUsageV2_202612_20261205.tar.gz"])
def test_a_key_that_is_not_a_bill_file_names_no_cycle(key):
    assert bill_file_cycle(key) is None


def test_a_bill_file_key_naming_no_month_says_so_in_one_line():
    with pytest.raises(ValueError) as caught:
        bill_file_cycle("customerBill/customerBill_202613.tar.gz")
    assert str(caught.value) == "'202613' is not a month in the form YYYYMM"


def test_a_usage_export_key_names_its_cycle_and_export_date():
    assert parse_usage_key("customerUsage/customerUsageV2_202612_20261205.tar.gz") == (BillCycle(2026, 12),
                                                                                      date(2026, 12, 5))


@pytest.mark.parametrize("key", [
    "customerUsage/customerUsageV2_202613_20270101.tar.gz",   # month 13
    "customerUsage/customerUsageV2_202600_20260101.tar.gz",   # month 0
    "customerUsage/customerUsageV2_202612_20261245.tar.gz",   # no such export date
    "customerUsage/customerUsageV2_202612_2026120.tar.gz",
    "customerUsage/customerUsageV2_202612_20261205.tar.gz.part",
])
def test_a_usage_key_naming_no_month_or_no_date_is_ignored_like_any_other_key(key):
    assert parse_usage_key(key) is None


def test_landing_records_the_copies_that_name_the_month_and_not_the_other_months(tmp_path):
    con = duckdb.connect(str(tmp_path / "billrecon.duckdb"))
    ensure_schema(con)
    listing = [ObjectInfo(key, etag, 4, None) for key, etag in [
        ("customerBill/customerBill_202612.tar.gz", "e1"),
        ("customerBill/copy_customerBill_202612.tar.gz", "e1"),
        ("customerBill/customerBill_202612_v2.tar.gz", "e2"),
        ("customerBill/customerBill_202611.tar.gz", "e3"),
        ("customerBill/customerBill_202613.tar.gz", "e4"),
    ]]
    ignored = record_ignored_bill_objects(con, listing, BillCycle(2026, 12))
    monthly = "customerBill/customerBill_202612.tar.gz"
    expected = [
        ("customerBill/copy_customerBill_202612.tar.gz", "e1",
         f"same content as {monthly} under another key; counted once, from {monthly}"),
        ("customerBill/customerBill_202612_v2.tar.gz", "e2",
         f"not the monthly bill file name; the month is read from {monthly} only"),
    ]
    assert [(i["object_key"], i["etag"], i["reason"]) for i in ignored] == expected
    assert con.execute("select object_key, etag, reason from audit.ignored_objects "
                       "where source = 'customerBill' and bill_cycle = '2026-12' order by object_key").fetchall() == expected
