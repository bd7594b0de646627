"""Jobs, partitioned by partner account × bill cycle. Every job writes its account's working DuckDB file
(one writing process per file): the run queue (pipelines/dagster.yaml, deploy/dagster.yaml) runs one
run per value of the run's partner partition tag, so each account's runs queue behind each other
while different accounts run side by side."""

import dagster as dg

from pipelines.assets.api import API_ASSETS
from pipelines.assets.landing import landed_agreements, landed_usage_exports
from pipelines.partitions import account_month_partitions

# A run still going after this long is stuck (a close of ten million lines takes minutes): Dagster's
# run monitoring (dagster.yaml) fails it, which frees its account's place in the run queue for the next
# night, instead of every later run of the account waiting behind it unseen. A run may set its own.
RUN_TIMEOUT_SECONDS = 4 * 60 * 60
RUN_TAGS = {"dagster/max_runtime": str(RUN_TIMEOUT_SECONDS)}

month_close_job = dg.define_asset_job(
    "month_close",
    selection=dg.AssetSelection.all(),
    partitions_def=account_month_partitions,
    description="Land, stage, model and report one bill cycle.",
    tags=RUN_TAGS,
)

# what the open month's night brings, and everything that reads it; not the bill file (the sensor
# closes a month when it lands) nor the incentive statement (finance drops it once a month)
NIGHTLY_SOURCES = dg.AssetSelection.assets(*API_ASSETS, landed_usage_exports, landed_agreements)
_REFRESHED = NIGHTLY_SOURCES.downstream()
# and the models those read that the night does not feed (restatement, the open month's empty coupon
# use and incentive performance): cheap, and a night on a new warehouse finds every table it reads
NIGHTLY_SELECTION = _REFRESHED | (_REFRESHED.upstream() & dg.AssetSelection.groups("core", "marts"))

nightly_job = dg.define_asset_job(
    "nightly_refresh",
    selection=NIGHTLY_SELECTION,
    partitions_def=account_month_partitions,
    description="Refresh the open month: pull the BSS partner APIs, land the newest usage export and agreements, "
                "and refresh what depends on them up to the month-to-date marts and reports.",
    tags=RUN_TAGS,
)
