"""Landing assets: source objects fetched from the bucket (or inbox) and recorded in landing.objects."""


from collections.abc import Callable

import dagster as dg
import duckdb

from pipelines.assets.tables import writes
from pipelines.lib.chart_of_accounts import CHART_OF_ACCOUNTS_KEY
from pipelines.lib.landing import (
    land,
    record_ignored_agreement_objects,
    record_ignored_bill_objects,
    record_ignored_usage_objects,
)
from pipelines.lib.object_keys import BILL_PREFIX, bill_file_key, usage_export_prefix
from pipelines.lib.object_store import ObjectInfo
from pipelines.lib.staging import CUSTOMER_DISCOUNTS_KEY
from pipelines.lib.statements import INCENTIVE_RATES_KEY
from pipelines.partitions import account_month_partitions, run_month
from pipelines.resources import ObjectStoreResource, WarehouseResource, expected_failures
from schemas.bill_cycle import BillCycle

AGREEMENTS_PREFIX = "agreements/"
# the agreement files staging reads; any other object under agreements/ is listed as ignored
AGREEMENT_KEYS = (CUSTOMER_DISCOUNTS_KEY, INCENTIVE_RATES_KEY, CHART_OF_ACCOUNTS_KEY)


def land_prefix(context, warehouse: WarehouseResource, object_store: ObjectStoreResource, prefix: str):
    with warehouse.connect() as con, expected_failures():  # a file source that cannot be reached
        deliveries = land(con, object_store.store(), prefix, warehouse.landing_path)
    new = [d for d in deliveries if d.newly_landed]
    context.log.info(f"{len(deliveries)} object(s) under {prefix} in {object_store.describe()}, {len(new)} new")
    return dg.MaterializeResult(metadata={
        "prefix": prefix,
        "objects": len(deliveries),
        "newly_landed": len(new),
        "keys": dg.MetadataValue.json([{"key": d.object_key, "etag": d.etag, "sha256": d.sha256,
                                        "new": d.newly_landed} for d in deliveries]),
    })


@dg.asset(group_name="landing", partitions_def=account_month_partitions, kinds={"s3", "duckdb"},
          metadata=writes("landing.objects", "audit.ignored_objects"))
def landed_bill_file(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                     object_store: ObjectStoreResource) -> dg.MaterializeResult:
    """The monthly partner bill file of the cycle, landed if new or re-delivered (new ETag).

    Grain: one delivery of `customerBill/customerBill_YYYYMM.tar.gz`. Source: the OBS bucket or inbox.
    Other objects under customerBill/ that name the month (a copy under a second key) are not loaded;
    they are listed in audit.ignored_objects with the reason.
    """
    cycle = BillCycle.parse(run_month(context))
    result = land_prefix(context, warehouse, object_store, bill_file_key(cycle))
    listing = listed(object_store, BILL_PREFIX)
    return with_ignored(context, warehouse, result, lambda con: record_ignored_bill_objects(con, listing, cycle))


@dg.asset(group_name="landing", partitions_def=account_month_partitions, kinds={"s3", "duckdb"},
          metadata=writes("landing.objects", "audit.ignored_objects"))
def landed_usage_exports(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                         object_store: ObjectStoreResource) -> dg.MaterializeResult:
    """The daily cumulative usage exports of the month.

    Grain: one delivery of `customerUsage/customerUsageV2_YYYYMM_YYYYMMDD.tar.gz`. Source: OBS bucket or inbox.
    Other objects under the month's prefix (a `.part` upload, a copy) are landed but not loaded; they are
    listed in audit.ignored_objects with the reason.
    """
    cycle = BillCycle.parse(run_month(context))
    prefix = usage_export_prefix(cycle)
    result = land_prefix(context, warehouse, object_store, prefix)
    listing = listed(object_store, prefix)
    return with_ignored(context, warehouse, result, lambda con: record_ignored_usage_objects(con, listing, cycle))


def listed(object_store: ObjectStoreResource, prefix: str) -> list[ObjectInfo]:
    """The objects under `prefix`; a file source that cannot be reached fails the step in one line."""
    with expected_failures():
        return object_store.store().list(prefix)


def with_ignored(context, warehouse: WarehouseResource, result: dg.MaterializeResult,
                 record: Callable[[duckdb.DuckDBPyConnection], list[dict]]) -> dg.MaterializeResult:
    """`result` with the objects `record` lists in audit.ignored_objects (pipelines/lib/landing.py), each logged."""
    with warehouse.connect() as con:
        ignored = record(con)
    for item in ignored:
        context.log.warning(f"not loaded: {item['object_key']}: {item['reason']}")
    result.metadata["ignored_objects"] = dg.MetadataValue.json(ignored)
    return result


@dg.asset(group_name="landing", partitions_def=account_month_partitions, kinds={"s3", "duckdb"},
          metadata=writes("landing.objects", "audit.ignored_objects"))
def landed_agreements(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      object_store: ObjectStoreResource) -> dg.MaterializeResult:
    """The partner's agreement files (customer discounts, incentive rates, chart of accounts), as of this run.

    Grain: one delivery of each `agreements/*.csv`. Source: OBS bucket or inbox. An object under
    agreements/ that is none of those files (a misspelt name, a backup) is landed but not loaded; it is
    listed in audit.ignored_objects with the reason.
    """
    result = land_prefix(context, warehouse, object_store, AGREEMENTS_PREFIX)
    listing = listed(object_store, AGREEMENTS_PREFIX)
    return with_ignored(context, warehouse, result,
                        lambda con: record_ignored_agreement_objects(con, listing, AGREEMENT_KEYS))
