"""What the reconciliation model assets (docs/reconciliation.md; built by pipelines/assets/models.py)
do beyond building their SQL: the tie-outs against HUAWEI CLOUD's monthly bills, the discount audit,
the incentives against the statement, budgets and coupons, and the one table of every finding.
Severities and texts of the rules come from schemas/rules.py (audit.rules).

A mismatch is a finding, not a broken pipeline: no check here blocks anything. The findings check
reports the count per area as a warning.

Without a configured BSS API (BILLRECON_BSS_ENDPOINT), the models fed by it only (partner_bill_tieout,
customer_bill_tieout, budget_status, coupon_status and the coupon findings) hold no rows for the
cycle, and say so in their metadata. The rules fed by the bill file and the partner's own files still
run: the line identities, negative margins, agreement overlaps and expiries, and the incentives, whose
rows show the statement beside the computed performance with status `policy_unknown` and raise
nothing (which services earn, and at which rate, is known from the API's incentive policies only).
"""

import dagster as dg

from pipelines.assets.models import ModelCheck, ModelHooks
from pipelines.lib.reconciliation import findings_by_area, findings_by_rule

FINDINGS_BY_AREA = "findings_by_area"


def _statuses(table: str, cycle_filter: str | None = None, key: str = "statuses"):
    """Metadata: the rows built and their count per status (the cycle's, with a filter binding it)."""
    def metadata(context, con, cycle: str, rows: int) -> dict:
        counts = dict(con.execute(f"select status, count(*) from {table} where {cycle_filter or 'true'} "
                                  "group by status order by status", [cycle] if cycle_filter else []).fetchall())
        return {"rows": rows, key: dg.MetadataValue.json(counts)}
    return metadata


def _discount_audit_metadata(context, con, cycle: str, rows: int) -> dict:
    by_rule = dict(con.execute(
        "select rule_id, count(*) from marts.discount_audit where bill_cycle = ? or bill_cycle is null "
        "group by rule_id order by rule_id", [cycle]).fetchall())
    return {"by_rule": dg.MetadataValue.json(by_rule)}


def _findings_metadata(context, con, cycle: str, rows: int) -> dict:
    return {"findings": rows, "by_area": dg.MetadataValue.json(findings_by_area(con)),
            "by_rule": dg.MetadataValue.json(findings_by_rule(con))}


def _findings_by_area(con, cycle: str, metadata: dict) -> tuple[bool, dict]:
    return metadata["findings"] == 0, {**findings_by_area(con), "total": metadata["findings"]}


_API_FED = ModelHooks(empty_without_bss_api=True)

MODEL_HOOKS = {
    "marts.partner_bill_tieout": ModelHooks(
        empty_without_bss_api=True, metadata=_statuses("marts.partner_bill_tieout", "bill_cycle = ?")),
    "marts.customer_bill_tieout": ModelHooks(
        empty_without_bss_api=True, metadata=_statuses("marts.customer_bill_tieout", "bill_cycle = ?")),
    "core.discount_finding": ModelHooks(metadata=lambda context, con, cycle, rows: {"findings_this_cycle": rows}),
    "marts.discount_audit": ModelHooks(metadata=_discount_audit_metadata),
    "marts.incentive_reconciliation": ModelHooks(
        metadata=_statuses("marts.incentive_reconciliation", "period = ?", "statuses_this_period")),
    "marts.budget_status": ModelHooks(empty_without_bss_api=True, metadata=_statuses("marts.budget_status")),
    "core.coupon_expiry_finding": _API_FED,
    "core.coupon_balance_finding": _API_FED,
    "marts.coupon_status": _API_FED,
    "marts.reconciliation_findings": ModelHooks(
        metadata=_findings_metadata,
        checks=(ModelCheck(FINDINGS_BY_AREA, "Reconciliation findings per area (tie-out, discount, incentive, "
                                             "budget, coupon); any finding is a warning.",
                           dg.AssetCheckSeverity.WARN, _findings_by_area),),
    ),
}
