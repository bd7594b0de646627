"""Landing assets: source objects fetched from the bucket (or inbox) and recorded in landing.objects."""


import dagster as dg

from pipelines.assets.tables import writes
from pipelines.lib.landing import land, record_ignored_bill_objects
from pipelines.lib.object_keys import BILL_PREFIX, bill_file_key, usage_export_prefix
from pipelines.partitions import account_month_partitions, run_month
from pipelines.resources import ObjectStoreResource, WarehouseResource
from schemas.bill_cycle import BillCycle


def land_prefix(context, warehouse: WarehouseResource, object_store: ObjectStoreResource, prefix: str):
    store = object_store.store()
    with warehouse.connect() as con:
        deliveries = land(con, store, prefix, warehouse.landing_path)
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
    key = bill_file_key(cycle)
    result = land_prefix(context, warehouse, object_store, key)
    with warehouse.connect() as con:
        ignored = record_ignored_bill_objects(con, object_store.store().list(BILL_PREFIX), cycle)
    for item in ignored:
        context.log.warning(f"not loaded: {item['object_key']}: {item['reason']}")
    result.metadata["ignored_objects"] = dg.MetadataValue.json(ignored)
    return result


@dg.asset(group_name="landing", partitions_def=account_month_partitions, kinds={"s3", "duckdb"},
          metadata=writes("landing.objects"))
def landed_usage_exports(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                         object_store: ObjectStoreResource) -> dg.MaterializeResult:
    """The daily cumulative usage exports of the month.

    Grain: one delivery of `customerUsage/customerUsageV2_YYYYMM_YYYYMMDD.tar.gz`. Source: OBS bucket or inbox.
    """
    return land_prefix(context, warehouse, object_store, usage_export_prefix(BillCycle.parse(run_month(context))))


@dg.asset(group_name="landing", partitions_def=account_month_partitions, kinds={"s3", "duckdb"},
          metadata=writes("landing.objects"))
def landed_agreements(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      object_store: ObjectStoreResource) -> dg.MaterializeResult:
    """The partner's agreement files (customer discounts, incentive rates), as of this run.

    Grain: one delivery of each `agreements/*.csv`. Source: OBS bucket or inbox.
    """
    return land_prefix(context, warehouse, object_store, "agreements/")
