"""The BSS partner API: client (official SDKs, retried reads), paging, the dataset registry,
immutable JSON snapshots and their staging. Plain Python, no dagster import.

    connection = BssConnection(endpoint, access_key, secret_key, domain_id)
    with BssApi(connection) as api:
        pulled = Puller(api).pull(DATASETS["orders"], "2026-09")
    snapshot = save_snapshot(con, landing_dir, pulled, ...)
    stage_snapshot(con, landing_dir, DATASETS["orders"], snapshot, load_id)
"""

from pipelines.lib.bss.client import BssApi, BssConnection, Operation, build_sdk_clients
from pipelines.lib.bss.datasets import DATASETS, ApiDataset, Pulled, Puller
from pipelines.lib.bss.errors import BssCallFailed, BssPullFailed, InconsistentPages, Redactor
from pipelines.lib.bss.retry import CallStats, RetryPolicy
from pipelines.lib.bss.snapshots import Snapshot, current_snapshot, newest_per_snapshot_date, save_snapshot
from pipelines.lib.bss.staging import stage_snapshot

__all__ = [
    "DATASETS", "ApiDataset", "BssApi", "BssCallFailed", "BssConnection", "BssPullFailed",
    "CallStats", "InconsistentPages", "Operation", "Pulled", "Puller", "Redactor", "RetryPolicy", "Snapshot",
    "build_sdk_clients", "current_snapshot", "newest_per_snapshot_date", "save_snapshot", "stage_snapshot",
]
