"""Runs are partitioned by partner account × bill cycle. The month dimension is the bill cycles
('YYYY-MM' keys, read with `BillCycle.parse`, the open month included: end_offset=1); the partner
dimension is the accounts of partners.toml (BILLRECON_PARTNERS_FILE), or the one account of the
BILLRECON_* settings (BILLRECON_PARTNER_ID, else `default`), read when the definitions load: a new
account appears when the code location reloads (docs/architecture.md, Partitions).

Dagster orders the dimensions by name, so a key reads `<month>|<partner>` ('2026-09|acme-intl'); code
builds keys with `partition_key` and reads them with `run_month` / `run_partner`, never by splitting."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from pipelines.lib.partners import FILE_VARIABLE, load_partners, run_partner_id
from schemas.bill_cycle import CYCLE_FORMAT, GMT8_ZONE_NAME, BillCycle

FIRST_BILL_CYCLE = BillCycle(2024, 1)
PARTNER = "partner"
MONTH = "month"
# the tag Dagster gives every run of a partner × month partition: the run queue limits runs per value
PARTNER_TAG = f"dagster/partition/{PARTNER}"

bill_cycle_partitions = dg.MonthlyPartitionsDefinition(
    start_date=str(FIRST_BILL_CYCLE), fmt=CYCLE_FORMAT, end_offset=1, timezone=GMT8_ZONE_NAME
)


def partner_ids(environ: Mapping[str, str] | None = None) -> list[str]:
    """The accounts runs are for: every account of partners.toml, or the one of the BILLRECON_* settings."""
    environ = os.environ if environ is None else environ
    if environ.get(FILE_VARIABLE):
        return [partner.id for partner in load_partners(environ)]
    return [run_partner_id(environ)]


partner_partitions = dg.StaticPartitionsDefinition(partner_ids())

account_month_partitions = dg.MultiPartitionsDefinition({PARTNER: partner_partitions, MONTH: bill_cycle_partitions})


def partition_key(bill_cycle: str, partner_id: str | None = None) -> dg.MultiPartitionKey:
    """The partition of one account's bill cycle; without an account, the one account of the settings
    (refused with several: say which)."""
    return dg.MultiPartitionKey({PARTNER: partner_id or run_partner_id(), MONTH: str(bill_cycle)})


def run_month(context: dg.AssetExecutionContext) -> str:
    """The bill cycle ('YYYY-MM') the running asset materializes."""
    return _dimension(context, MONTH)


def run_partner(context: dg.AssetExecutionContext) -> str:
    """The partner account the running asset materializes."""
    return _dimension(context, PARTNER)


def _dimension(context: dg.AssetExecutionContext, dimension: str) -> str:
    key = context.partition_key
    assert isinstance(key, dg.MultiPartitionKey), f"{key!r} is not a partner × month partition key"
    return key.keys_by_dimension[dimension]
