"""The asset factory of the SQL models: one asset per file of sql/core and sql/marts.

Each model's upstream assets are the tables its SQL reads (parsed by pipelines/lib/sql_models.py):
a model's table maps to that model's asset, any other table to the assets that declare they write
it (pipelines/assets/tables.py). Adding a model is adding a file. What an asset does beyond
building its SQL — metadata, checks, skipping a rebuild from unchanged inputs, holding no rows
without the BSS API — is a `ModelHooks` entry keyed by the model's table, kept beside the other
assets of its kind (pipelines/assets/core.py, marts.py, reconciliation.py).

Asset names: a mart's is its table name (`customer_monthly_expenditure`), a core model's is
prefixed with its layer (`core_rated_bill_line`).
"""


from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.assets.api import SKIPPED
from pipelines.assets.tables import writers_by_table
from pipelines.lib.fingerprint import UpTo, inputs_fingerprint, last_build, record_build
from pipelines.lib.sql_models import CODE_TABLES, Model, ModelError, clear, materialize, read_models
from pipelines.lib.warehouse import SQL_DIR, transaction
from pipelines.partitions import account_month_partitions, run_month
from pipelines.resources import BssApiResource, WarehouseResource

SKIPPED_NOTE = "inputs unchanged since the last build (same code and inputs): not rebuilt"


@dataclass(frozen=True)
class ModelCheck:
    """An asset check of a model, evaluated after each build."""

    name: str
    description: str
    severity: dg.AssetCheckSeverity
    evaluate: Callable[[duckdb.DuckDBPyConnection, str, dict], tuple[bool, dict]]
    """(connection, bill cycle, the build's metadata) -> (passed, the check's metadata)."""
    blocking: bool = False


@dataclass(frozen=True)
class ModelHooks:
    """What a model's asset does beyond building its SQL; every part is optional."""

    metadata: Callable[[dg.AssetExecutionContext, duckdb.DuckDBPyConnection, str, int], dict] | None = None
    """(context, connection, bill cycle, rows built) -> the materialization's metadata."""
    checks: tuple[ModelCheck, ...] = ()
    inputs: Callable[[str], dict[str, str | UpTo | None]] | None = None
    """The loads (audit.loads source -> cycle, UpTo(cycle) or None) the model is built from: a build
    from the same loads, contents and code is skipped (audit.model_builds), and recorded only when
    every check passed."""
    contents: Callable[[str], list[tuple[str, dict]]] | None = None
    """With `inputs`: queries (text, parameters) whose rows the model is built from too, for inputs
    pulled again on every run (their loads differ by fetch time even when nothing changed)."""
    skipped_note: str = SKIPPED_NOTE
    """The metadata of a skipped build: why it was not rebuilt."""
    still_built: Callable[[duckdb.DuckDBPyConnection, str, dict], bool] = lambda con, cycle, built: True
    """Whether the rows of the last build (its metadata) are still there, for a skip."""
    empty_without_bss_api: bool = False
    """Fed by the BSS API only: without it configured, the cycle's rows are cleared instead."""


def model_key(table: str) -> dg.AssetKey:
    """The asset of a model table (`schema.table`)."""
    layer, name = table.split(".")
    return dg.AssetKey(name if layer == "marts" else f"{layer}_{name}")


def merge_hooks(*hook_maps: Mapping[str, ModelHooks]) -> dict[str, ModelHooks]:
    merged: dict[str, ModelHooks] = {}
    for hooks in hook_maps:
        twice = merged.keys() & hooks.keys()
        if twice:
            raise ModelError(f"hooks given twice for {', '.join(sorted(twice))}")
        merged.update(hooks)
    return merged


def model_assets(writers: Iterable[dg.AssetsDefinition], hooks: Mapping[str, ModelHooks] | None = None,
                 sql_dir: Path = SQL_DIR) -> list[dg.AssetsDefinition]:
    """One asset per model under `sql_dir`, its deps read from its SQL; `writers` are the other
    assets that write the tables models read (landing, staging)."""
    hooks = hooks or {}
    models = read_models(sql_dir)
    unknown = set(hooks) - {model.table for model in models}
    if unknown:
        raise ModelError(f"hooks for {', '.join(sorted(unknown))}, which no file of {sql_dir.name}/ builds")
    written = writers_by_table(writers)
    tables = {model.table for model in models}
    return [_model_asset(model, _upstream(model, tables, written), hooks.get(model.table, ModelHooks()))
            for model in models]


def _upstream(model: Model, models: set[str], written: dict[str, list[dg.AssetKey]]) -> list[dg.AssetKey]:
    keys: dict[dg.AssetKey, None] = {}
    for table in sorted(model.reads - {model.table} - CODE_TABLES.keys()):
        if table in models:
            keys[model_key(table)] = None
        elif table in written:
            keys.update(dict.fromkeys(written[table]))
        else:
            raise ModelError(f"sql/{model.layer}/{model.name}.sql reads {table}, which no model or asset writes")
    return list(keys)


def _description(model: Model) -> str:
    return (f"{model.comment}\n\nMaterialized as a {model.materialized} by sql/{model.layer}/{model.name}.sql; "
            f"reads {', '.join(sorted(model.reads))}.")


def _model_asset(model: Model, deps: list[dg.AssetKey], hooks: ModelHooks) -> dg.AssetsDefinition:
    key = model_key(model.table)

    @dg.asset(key=key, group_name=model.layer, partitions_def=account_month_partitions, deps=deps,
              check_specs=[dg.AssetCheckSpec(check.name, asset=key, blocking=check.blocking,
                                             description=check.description) for check in hooks.checks],
              kinds={"duckdb", "sql"}, description=_description(model))
    def build(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
              bss_api: BssApiResource) -> dg.MaterializeResult:
        return _build(context, warehouse, bss_api, model, hooks)

    return build


def _build(context: dg.AssetExecutionContext, warehouse: WarehouseResource, bss_api: BssApiResource,
           model: Model, hooks: ModelHooks) -> dg.MaterializeResult:
    cycle = run_month(context)
    with warehouse.connect() as con:
        if hooks.empty_without_bss_api and not bss_api.configured:
            with transaction(con):
                clear(con, model, cycle)
            context.log.info(f"{SKIPPED}: {model.table} holds no rows")
            return dg.MaterializeResult(metadata={"note": SKIPPED}, check_results=_unchecked(hooks, SKIPPED))
        fingerprint = None
        if hooks.inputs is not None:
            contents = hooks.contents(cycle) if hooks.contents is not None else []
            fingerprint = inputs_fingerprint(con, hooks.inputs(cycle), contents)
            built = last_build(con, model.table, cycle, fingerprint)
            if built is not None and hooks.still_built(con, cycle, built):
                return dg.MaterializeResult(metadata={**built, "skipped": hooks.skipped_note},
                                            check_results=_unchecked(hooks, hooks.skipped_note))
        with transaction(con):
            rows = materialize(con, model, cycle)
        if hooks.metadata is not None:
            metadata = hooks.metadata(context, con, cycle, rows)
        else:
            metadata = {"view": model.table} if model.materialized == "view" else {"rows": rows}
        results = []
        for check in hooks.checks:
            passed, check_metadata = check.evaluate(con, cycle, metadata)
            results.append(dg.AssetCheckResult(check_name=check.name, passed=passed, severity=check.severity,
                                               metadata=check_metadata))
        if fingerprint is not None and all(result.passed for result in results):
            # a build whose checks failed is not recorded: the next run builds it again
            with transaction(con):
                record_build(con, model.table, cycle, fingerprint, metadata)
    return dg.MaterializeResult(metadata=metadata, check_results=results)


def _unchecked(hooks: ModelHooks, note: str) -> list[dg.AssetCheckResult]:
    """The checks of a model not built by this run: they hold as they did, with the reason."""
    return [dg.AssetCheckResult(check_name=check.name, passed=True, severity=check.severity,
                                metadata={"skipped": note}) for check in hooks.checks]
