"""The warehouse tables an asset writes, declared on the asset (definition metadata). The SQL model
assets read their lineage from their SQL; a table a model reads is mapped to the assets that write
it through these declarations (pipelines/assets/models.py)."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

TABLES_WRITTEN = "billrecon/tables_written"

# every staging asset records its loads, rejected rows and findings here
STAGING_AUDIT = ("audit.loads", "audit.quarantine", "audit.findings")


def writes(*tables: str) -> dict[str, dg.MetadataValue]:
    """Definition metadata of an asset that writes `tables` (`schema.table`)."""
    return {TABLES_WRITTEN: dg.MetadataValue.json(sorted(set(tables)))}


def stages(*tables: str) -> dict[str, dg.MetadataValue]:
    """Definition metadata of a staging asset: its tables and the audit tables of every load."""
    return writes(*tables, *STAGING_AUDIT)


def writers_by_table(assets: Iterable[dg.AssetsDefinition]) -> dict[str, list[dg.AssetKey]]:
    """Table -> the keys of the assets that declare they write it."""
    writers: dict[str, list[dg.AssetKey]] = {}
    for assets_def in assets:
        for key in assets_def.keys:
            declared = assets_def.metadata_by_key.get(key, {}).get(TABLES_WRITTEN)
            for table in declared.data if declared is not None else ():
                writers.setdefault(table, []).append(key)
    return writers
