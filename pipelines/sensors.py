"""Sensor on customerBill/: a new or re-delivered monthly bill file starts that cycle's month close."""

import dagster as dg

from pipelines.jobs import month_close_job
from pipelines.lib.object_keys import BILL_PREFIX, bill_file_cycle
from pipelines.partitions import partition_key
from pipelines.resources import ObjectStoreResource

DESCRIPTION = ("Every 15 minutes, lists customerBill/ in the bucket (or inbox): a new monthly bill file, or a "
               "re-delivery of one (same key, new ETag), starts the month close of its bill cycle, once per "
               "key and ETag.")


@dg.sensor(job=month_close_job, minimum_interval_seconds=900, default_status=dg.DefaultSensorStatus.STOPPED,
           description=DESCRIPTION)
def bill_file_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStoreResource):
    """One run per (key, ETag): the run key makes a re-delivery (new ETag) start a new month close."""
    for info in object_store.store().list(BILL_PREFIX):
        try:
            cycle = bill_file_cycle(info.key)
        except ValueError as error:  # e.g. customerBill_202613: no month to close; the other keys still are
            context.log.warning(f"{info.key}: {error}")
            continue
        if cycle is None:
            continue
        yield dg.RunRequest(run_key=f"{info.key}@{info.etag}", partition_key=partition_key(str(cycle)))
