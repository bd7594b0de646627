"""Sensor on customerBill/: a new or re-delivered monthly bill file starts that account's month close."""

import dagster as dg

from pipelines.jobs import month_close_job
from pipelines.lib.failures import describe
from pipelines.lib.object_keys import BILL_PREFIX, bill_file_cycle
from pipelines.partitions import partition_key, partner_partitions
from pipelines.resources import ObjectStoreResource

DESCRIPTION = ("Every 15 minutes, lists customerBill/ in each partner account's bucket (or inbox): a new monthly "
               "bill file, or a re-delivery of one (same key, new ETag), starts the month close of that account's "
               "bill cycle, once per account, key and ETag.")


@dg.sensor(job=month_close_job, minimum_interval_seconds=900, default_status=dg.DefaultSensorStatus.STOPPED,
           description=DESCRIPTION)
def bill_file_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStoreResource):
    """One run per (account, key, ETag): the run key makes a re-delivery (new ETag) start a new month
    close, and the same key in two accounts' folders two closes. The accounts are the partitions'."""
    for partner_id in partner_partitions.get_partition_keys():
        try:
            listed = object_store.for_account(partner_id).store().list(BILL_PREFIX)
        except Exception as exc:  # one account's unreachable bucket must not hold back the others' closes
            context.log.warning(f"{partner_id}: cannot list {BILL_PREFIX}: {describe(exc) or exc}")
            continue
        for info in listed:
            try:
                cycle = bill_file_cycle(info.key)
            except ValueError as error:  # e.g. customerBill_202613: no month to close; the other keys still are
                context.log.warning(f"{partner_id}: {info.key}: {error}")
                continue
            if cycle is None:
                continue
            yield dg.RunRequest(run_key=f"{partner_id}:{info.key}@{info.etag}",
                                partition_key=partition_key(str(cycle), partner_id))
