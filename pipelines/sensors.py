"""Sensor on customerBill/: a new or re-delivered monthly bill file starts that cycle's month close."""

import re

import dagster as dg

from pipelines.jobs import month_close_job
from pipelines.resources import ObjectStoreResource
from schemas.bill_cycle import BillCycle

_BILL_KEY = re.compile(r"^customerBill/customerBill_(\d{6})\.tar\.gz$")


DESCRIPTION = ("Every 15 minutes, lists customerBill/ in the bucket (or inbox): a new monthly bill file, or a "
               "re-delivery of one (same key, new ETag), starts the month close of its bill cycle, once per "
               "key and ETag.")


@dg.sensor(job=month_close_job, minimum_interval_seconds=900, default_status=dg.DefaultSensorStatus.STOPPED,
           description=DESCRIPTION)
def bill_file_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStoreResource):
    """One run per (key, ETag): the run key makes a re-delivery (new ETag) start a new month close."""
    for info in object_store.store().list("customerBill/"):
        match = _BILL_KEY.match(info.key)
        if not match:
            continue
        try:
            cycle = BillCycle.parse_compact(match.group(1))
        except ValueError as error:  # e.g. customerBill_202613: no month to close; the other keys still are
            context.log.warning(f"{info.key}: {error}")
            continue
        yield dg.RunRequest(run_key=f"{info.key}@{info.etag}", partition_key=str(cycle))
