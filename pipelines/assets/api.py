"""API assets: each dataset of the BSS partner API (pipelines/lib/bss/datasets.py) pulled whole into an
immutable JSON snapshot (landing group), then typed and validated into its staging.api_* table(s)
(staging group). One pair of assets per dataset.

Every asset is partitioned by partner account × bill cycle like the rest of the graph. Datasets bound
to a month (the partner's monthly bill, customer monthly sums, orders, incentive policies) pull the
partition's cycle; the others are pulled as of the run, whatever the partition. Without a configured
endpoint every API asset succeeds doing nothing, with the note "skipped: BSS API not configured".
"""

import datetime as dt
import inspect
from dataclasses import replace

import dagster as dg

from pipelines.assets.staging import audit_totals, log_stage_outcome, staging_check_specs, staging_result
from pipelines.assets.tables import stages, writes
from pipelines.lib.bss import (
    DATASETS,
    ApiDataset,
    BssApi,
    BssPullFailed,
    Puller,
    Snapshot,
    current_snapshot,
    newest_per_snapshot_date,
    save_snapshot,
    stage_snapshot,
)
from pipelines.lib.bss.records import STAGING
from pipelines.lib.partners import partner_account
from pipelines.lib.warehouse import transaction
from pipelines.partitions import account_month_partitions, run_month, run_partner
from pipelines.resources import BssApiResource, WarehouseResource

SKIPPED = "skipped: BSS API not configured"
_NOTHING_STAGED = {"members": 0, "rows_read": 0, "rows_loaded": 0, "rows_quarantined": 0, "findings": 0,
                   "unbalanced": 0, "rejected": 0, "first_error": None}


def _cycle_of(dataset: ApiDataset, bill_cycle: str) -> str | None:
    return bill_cycle if dataset.bound_to == "cycle" else None


def _pull_scope(dataset: ApiDataset) -> str:
    return " — once for the partner's own customers and once per reseller" if dataset.scoped else ""


def _landing_asset(dataset: ApiDataset) -> dg.AssetsDefinition:
    when = "of the partition's bill cycle" if dataset.bound_to == "cycle" else "as of the run, whatever the partition"
    description = f"""{dataset.title}: every record of one complete pull, as an immutable JSON snapshot.

    Grain: one pull {when} (landing.api_snapshots), holding one record per {dataset.grain}.
    Source: {dataset.route} of the BSS partner API through the official SDK{_pull_scope(dataset)}.
    A pull that cannot complete fails with the route, the error code and the request id and keeps
    nothing: the previous snapshot stays the current one."""
    description = inspect.cleandoc(description)

    @dg.asset(name=f"landed_api_{dataset.name}", group_name="landing", partitions_def=account_month_partitions,
              kinds={"api", "duckdb"}, description=description, metadata=writes("landing.api_snapshots"))
    def landed(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
               bss_api: BssApiResource) -> dg.MaterializeResult:
        if not bss_api.configured:
            context.log.info(f"{dataset.name}: {SKIPPED}")
            return dg.MaterializeResult(metadata={"note": SKIPPED})
        cycle = _cycle_of(dataset, run_month(context))
        started_at = dt.datetime.now(dt.UTC)

        def retrying(route: str, failure, attempt: int, wait: float) -> None:
            request = f" (request id {failure.request_id})" if failure.request_id else ""
            context.log.warning(f"{route}: {failure.summary}{request}; attempt {attempt} failed, "
                                f"retrying in {wait:.1f} s")

        site = partner_account(run_partner(context)).site  # which official SDK makes the calls
        api = BssApi(replace(bss_api.connection(), site=site), bss_api.retry_policy(), on_retry=retrying)
        try:
            with api:
                pulled = Puller(api, bss_api.page_size, log=context.log.warning).pull(dataset, cycle)
        except BssPullFailed as failed:
            # the message is built from the route, the status, the error code and the request id only
            raise dg.Failure(description=str(failed), metadata={
                "route": failed.route, "error_code": failed.error_code or "", "request_id": failed.request_id or "",
                "requests": api.stats.requests,
            }) from None
        fetched_at = dt.datetime.now(dt.UTC)
        with warehouse.connect() as con:
            snapshot = save_snapshot(con, warehouse.landing_path, pulled, started_at=started_at, fetched_at=fetched_at,
                                     requests=api.stats.requests, retries=api.stats.retries, load_id=context.run_id,
                                     site=site)
        stats = api.stats.as_dict()
        context.log.info(f"{dataset.route}: {snapshot.record_count} record(s) in {pulled.pages} page(s), "
                         f"{stats['requests']} request(s), {stats['retries']} retried → {snapshot.path}")
        return dg.MaterializeResult(metadata={
            "route": dataset.route,
            "bill_cycle": cycle or "as of now",
            "records": snapshot.record_count,
            "snapshot": snapshot.path,
            "sha256": snapshot.sha256,
            "pages": pulled.pages,
            "list_restarts": pulled.restarts,
            **stats,
        })

    return landed


def _snapshots_to_stage(con, dataset: ApiDataset, cycle: str | None) -> tuple[Snapshot | None, list[Snapshot]]:
    """The current snapshot, and the snapshots not staged yet: for history datasets the newest of
    every snapshot date (so a day missed by staging is caught up), else the current one."""
    current = current_snapshot(con, dataset, cycle)
    candidates = newest_per_snapshot_date(con, dataset) if dataset.history else [current] if current else []
    staged = {row[0] for row in con.execute(
        "select distinct object_key from audit.loads where source = ?", [dataset.source]).fetchall()}
    return current, [s for s in candidates if s.path not in staged]


def _staging_asset(dataset: ApiDataset, landed: dg.AssetsDefinition) -> dg.AssetsDefinition:
    name = f"stg_api_{dataset.name}"
    tables = ", ".join(t.table for t in STAGING[dataset.name].tables)
    if dataset.history:
        kept = "per snapshot date (GMT+8); every date is kept, a later pull of the same date replaces it"
    elif dataset.bound_to == "cycle":
        kept = "of the cycle; a new pull of the cycle replaces it"
    else:
        kept = "; each new pull replaces the table"
    description = f"""{dataset.title}, typed and validated by pandera ({tables}).

    Grain: one row per {dataset.grain} {kept}.
    Source: the current snapshot of {landed.key.to_user_string()} ({dataset.route}). Records that cannot
    be typed or break a rule go to audit.quarantine; counts in audit.loads (source '{dataset.source}')."""
    description = inspect.cleandoc(description)

    @dg.asset(name=name, group_name="staging", partitions_def=account_month_partitions, deps=[landed],
              check_specs=staging_check_specs(name), kinds={"duckdb", "polars"}, description=description,
              metadata=stages(*(t.table for t in STAGING[dataset.name].tables)))
    def staged(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
               bss_api: BssApiResource) -> dg.MaterializeResult:
        if not bss_api.configured:
            return staging_result(dict(_NOTHING_STAGED), name, skipped=SKIPPED)
        cycle = _cycle_of(dataset, run_month(context))
        with warehouse.connect() as con:
            current, pending = _snapshots_to_stage(con, dataset, cycle)
            if current is None:
                context.log.warning(f"no snapshot of {dataset.name} has been pulled yet"
                                    + (f" for {cycle}" if cycle else ""))
                return staging_result(dict(_NOTHING_STAGED), name, skipped=f"no snapshot of {dataset.name} yet")
            staged = []
            for snapshot in pending:
                with transaction(con):
                    staged.append(stage_snapshot(con, warehouse.landing_path, dataset, snapshot, context.run_id,
                                                 partner_account(run_partner(context))))
                log_stage_outcome(context, staged[-1])
            totals = audit_totals(con, dataset.source, cycle, current.path)
        return staging_result(totals, name, skipped=None if pending else "unchanged", key=current.path, staged=staged)

    return staged


def _asset_pairs() -> list[dg.AssetsDefinition]:
    assets = []
    for dataset in DATASETS.values():
        landed = _landing_asset(dataset)
        assets += [landed, _staging_asset(dataset, landed)]
    return assets


# one list, picked up by load_assets_from_modules
API_ASSETS: list[dg.AssetsDefinition] = _asset_pairs()


def api_staging(dataset: str) -> dg.AssetsDefinition:
    """The staging asset of a dataset (stg_api_<dataset>), for the assets that read its tables."""
    name = f"stg_api_{dataset}"
    return next(a for a in API_ASSETS if a.key.to_user_string() == name)
