"""The nightly schedule: 02:00 GMT+8, refreshes every partner account's open month: pulls the BSS
partner APIs (snapshots of customers, budgets, coupons, credit as of the night; the open month's orders,
monthly sums, policies), lands the newest usage export, and rebuilds what depends on them (marts,
reports)."""

import dagster as dg

from pipelines.jobs import nightly_job
from pipelines.partitions import partition_key, partner_partitions
from schemas.bill_cycle import GMT8_ZONE_NAME, BillCycle

DESCRIPTION = ("Every night at 02:00 GMT+8, refreshes the open month (the newest bill cycle) of every partner "
               "account, one run each: pulls the BSS partner APIs, lands the newest daily usage export, and "
               "rebuilds the month-to-date marts, budgets, coupons and the daily flash report. Closed months are "
               "left to the bill-file sensor.")


@dg.schedule(job=nightly_job, cron_schedule="0 2 * * *", execution_timezone=GMT8_ZONE_NAME,
             default_status=dg.DefaultScheduleStatus.STOPPED, description=DESCRIPTION)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    """The open month is the bill cycle of the scheduled moment (a partition: end_offset=1 includes it);
    one run per account of the partitions."""
    open_month = str(BillCycle.of(context.scheduled_execution_time))
    night = f"{context.scheduled_execution_time:%Y-%m-%d}"
    return [dg.RunRequest(run_key=f"nightly-{night}-{partner_id}", partition_key=partition_key(open_month, partner_id))
            for partner_id in partner_partitions.get_partition_keys()]
