"""Objects in a source folder that are not deliveries are landed or listed, never loaded, and each is
a row of audit.ignored_objects with the reason (replaced per cycle), read from the local S3 server."""

import hashlib

import dagster as dg
import duckdb

from pipelines.assets.incentive_files import landed_incentive_statement
from pipelines.assets.landing import landed_agreements, landed_usage_exports
from pipelines.assets.staging import stg_customer_discounts, stg_usage_lines
from pipelines.partitions import partition_key
from sandbox.objectstore import upload_tree
from tests.integration.conftest import pipeline_resources
from tests.integration.test_redelivery import _usage_archive

CYCLE = "2026-09"
EXPORT = "customerUsage/customerUsageV2_202609_20260905.tar.gz"
NOT_AN_EXPORT = ("not a daily usage export name (customerUsage/customerUsageV2_202609_YYYYMMDD.tar.gz); "
                 "the month's usage is read from those only")


def test_unknown_keys_under_the_months_usage_prefix_are_listed_with_the_reason_and_not_loaded(tmp_path, s3_server):
    upload = tmp_path / "upload"
    _usage_archive(upload, "20260905", ["1", "2"])
    export = (upload / EXPORT).read_bytes()
    planted = {
        "customerUsage/customerUsageV2_202609_20260905.tar.gz.part": b"half an upload",
        "customerUsage/customerUsageV2_202609_20260931.tar.gz": b"no such day",
        "customerUsage/customerUsageV2_202609_copy.tar.gz": export,
    }
    for key, data in planted.items():
        (upload / key).write_bytes(data)
    client = s3_server.client()
    upload_tree(client, "t-ignored-usage", upload)
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket="t-ignored-usage")

    def run() -> tuple[list, list]:
        result = dg.materialize([landed_usage_exports, stg_usage_lines], partition_key=partition_key(CYCLE), resources=resources)
        assert result.success
        con = duckdb.connect(resources["warehouse"].path, read_only=True)
        try:
            ignored = con.execute("select source, object_key, etag, size_bytes, bill_cycle, reason "
                                  "from audit.ignored_objects order by object_key").fetchall()
            usage = con.execute("select export_date::varchar, count(*), sum(official_amount)::varchar "
                                "from staging.usage_line group by 1").fetchall()
        finally:
            con.close()
        return ignored, usage

    ignored, usage = run()
    copy_reason = f"same content as {EXPORT} under another key; counted once, from {EXPORT}"
    assert ignored == [
        ("customerUsage", key, hashlib.md5(data).hexdigest(), len(data), CYCLE,
         copy_reason if data == export else NOT_AN_EXPORT)
        for key, data in sorted(planted.items())]
    assert usage == [("2026-09-05", 2, "3.00000000")]  # the export alone, counted once

    # the list is the month's as it is now: a key removed from the bucket leaves it
    client.delete_object(Bucket="t-ignored-usage", Key="customerUsage/customerUsageV2_202609_20260905.tar.gz.part")
    ignored, usage = run()
    assert [row[1] for row in ignored] == ["customerUsage/customerUsageV2_202609_20260931.tar.gz",
                                           "customerUsage/customerUsageV2_202609_copy.tar.gz"]
    assert usage == [("2026-09-05", 2, "3.00000000")]


def test_agreement_and_statement_objects_that_are_not_read_are_listed_with_the_reason(tmp_path, s3_server):
    discounts = (b"customer_id,service_type_code,resource_type_code,discount_rate,valid_from,valid_to\n"
                 b"*,*,*,0.05,2026-01-01,\n")
    statement = b"period,customer_id,incentive_type,amount\n"
    files = {
        "agreements/customer_discounts.csv": discounts,
        "agreements/customer_discount.csv": b"a misspelt name",
        "agreements/customer_discounts_old.csv": discounts,
        "incentives/incentive_statement_202609.csv": statement,
        "incentives/incentive_statement_202609 (1).csv": b"a second export",
        "incentives/incentive_statement_202610.csv": statement,  # another period's: not this month's business
    }
    upload = tmp_path / "upload"
    for key, data in files.items():
        (upload / key).parent.mkdir(parents=True, exist_ok=True)
        (upload / key).write_bytes(data)
    upload_tree(s3_server.client(), "t-ignored-agreements", upload)
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket="t-ignored-agreements")
    result = dg.materialize([landed_agreements, landed_incentive_statement, stg_customer_discounts],
                            partition_key=partition_key(CYCLE), resources=resources)
    assert result.success
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        ignored = con.execute("select source, object_key, etag, size_bytes, bill_cycle, reason "
                              "from audit.ignored_objects order by object_key").fetchall()
        discount_rows = con.execute("select count(*) from staging.customer_discount").fetchone()[0]

    def row(source, key, cycle, reason):
        return source, key, hashlib.md5(files[key]).hexdigest(), len(files[key]), cycle, reason

    read = ("agreements/customer_discounts.csv, agreements/incentive_rates.csv, "
            "agreements/chart_of_accounts.csv")
    assert ignored == [
        row("agreements", "agreements/customer_discount.csv", None,
            f"not an agreement file billrecon reads ({read}); not loaded"),
        row("agreements", "agreements/customer_discounts_old.csv", None,
            "same content as agreements/customer_discounts.csv under another key; counted once, from "
            "agreements/customer_discounts.csv"),
        row("incentives", "incentives/incentive_statement_202609 (1).csv", CYCLE,
            "not the incentive statement name; the month is read from incentives/incentive_statement_202609.csv "
            "only"),
    ]
    assert discount_rows == 1  # from customer_discounts.csv alone
