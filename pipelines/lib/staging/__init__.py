"""Staging: a landed delivery → typed, validated rows in DuckDB, with every rejected row in
audit.quarantine and every finding in audit.findings. One delivery is staged in one transaction
(the caller's), so a month is replaced whole or not at all.

This package's public face is what the assets and the other staging modules call:

- `deliveries`: what each kind of delivery replaces (`stage_bill_delivery`, `stage_usage_delivery`,
  `stage_customer_discounts`, `stage_csv_object`);
- `datasets`: each dataset's spec, model and table (`Dataset`), the limits (`MemberLimits`);
- `outcome`: what staging did (`StageOutcome`, one `MemberOutcome` per audit.loads row), for files
  and API snapshots alike;
- `archive`: the member loop and its spool folder (`SPOOL_PREFIX`); `members`: one member parsed and
  written; `rows`: rows with their lineage; `duplicates`: repeated lines; `audit_rows`: the audit rows,
  and whether a delivery refused under a lower limit is to be staged again (`limits_now_admit_a_refusal`);
  `account`: a delivery's headers against its account's site and currency.
"""

from pipelines.lib.staging.archive import SPOOL_PREFIX
from pipelines.lib.staging.audit_rows import limits_now_admit_a_refusal
from pipelines.lib.staging.datasets import Dataset, MemberLimits
from pipelines.lib.staging.deliveries import (
    CUSTOMER_DISCOUNTS_KEY,
    stage_bill_delivery,
    stage_csv_object,
    stage_customer_discounts,
    stage_usage_delivery,
)
from pipelines.lib.staging.outcome import MemberOutcome, StageOutcome

__all__ = [
    "CUSTOMER_DISCOUNTS_KEY", "SPOOL_PREFIX", "Dataset", "MemberLimits", "MemberOutcome", "StageOutcome",
    "limits_now_admit_a_refusal",
    "stage_bill_delivery", "stage_csv_object", "stage_customer_discounts", "stage_usage_delivery",
]
