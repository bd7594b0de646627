"""Staging assets: landed deliveries parsed, typed and validated (pandera) into staging tables;
bad rows in audit.quarantine, findings in audit.findings. Checks report both."""


from collections.abc import Callable, Sequence

import dagster as dg
import duckdb

from pipelines.assets.landing import landed_agreements, landed_bill_file, landed_usage_exports
from pipelines.assets.tables import stages
from pipelines.lib.chart_of_accounts import CHART_OF_ACCOUNTS_KEY, stage_chart_of_accounts
from pipelines.lib.holds import (
    Gauge,
    HeldDelivery,
    agreements_gauge,
    bill_file_gauge,
    chart_of_accounts_gauge,
    end_superseded_holds,
    stage_or_hold,
)
from pipelines.lib.landing import Delivery, current_delivery
from pipelines.lib.object_keys import bill_file_key, parse_usage_key, usage_export_prefix
from pipelines.lib.partners import partner_account
from pipelines.lib.staging import (
    CUSTOMER_DISCOUNTS_KEY,
    MemberLimits,
    StageOutcome,
    limits_now_admit_a_refusal,
    stage_bill_delivery,
    stage_customer_discounts,
    stage_usage_delivery,
)
from pipelines.lib.warehouse import transaction
from pipelines.partitions import account_month_partitions, run_month, run_partner
from pipelines.resources import WarehouseResource
from schemas.bill_cycle import BillCycle

ROWS_ADD_UP = "rows_read_equal_loaded_plus_quarantined"
VALIDATION = "validation_findings"
NOT_HELD = "no_held_delivery"
# the sources whose re-delivery is compared with what it replaces, and held when it cannot be trusted
HELD_SOURCE_ASSETS = {"stg_bill_lines", "stg_customer_discounts", "stg_incentive_statement", "stg_incentive_rates",
                      "stg_chart_of_accounts"}


def staging_check_specs(asset_name: str) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(ROWS_ADD_UP, asset=asset_name, blocking=True,
                          description="Every row read is either loaded or quarantined, for every member."),
        dg.AssetCheckSpec(VALIDATION, asset=asset_name,
                          description="pandera validation: quarantined rows and findings on loaded rows."),
    ]
    if asset_name in HELD_SOURCE_ASSETS:
        specs.append(dg.AssetCheckSpec(
            NOT_HELD, asset=asset_name,
            description="The current delivery is applied: none is held in audit.held_deliveries "
                        "(a held one waits for `billrecon accept` or a newer delivery)."))
    return specs


def already_staged(con, source: str, key: str, etag: str, bill_cycle: str | None, limits: MemberLimits) -> bool:
    """Whether this delivery is staged, under limits that refused none of its members it would now read."""
    row = con.execute(
        """select count(*) from audit.loads where source = ? and object_key = ? and etag = ?
           and bill_cycle is not distinct from ?""",
        [source, key, etag, bill_cycle],
    ).fetchone()
    return row[0] > 0 and not limits_now_admit_a_refusal(con, source, key, etag, bill_cycle, limits)


def already_applied(con, source: str, key: str, etag: str, bill_cycle: str | None, limits: MemberLimits) -> bool:
    """Whether the key's current delivery is staged already (`already_staged`). Then the holds on its other
    deliveries are over: the source holds the applied version again, as when a file is put back after a
    held re-delivery."""
    if not already_staged(con, source, key, etag, bill_cycle, limits):
        return False
    end_superseded_holds(con, key, etag)
    return True


def audit_totals(con, source: str, bill_cycle: str | None, key: str | None = None) -> dict:
    where = "source = ? and " + ("bill_cycle = ?" if bill_cycle else "object_key = ?")
    row = con.execute(
        f"""select count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0),
                   coalesce(sum(rows_quarantined), 0), coalesce(sum(findings_count), 0),
                   count(*) filter (where rows_read <> rows_loaded + rows_quarantined),
                   count(*) filter (where status = 'rejected'), min(first_error)
            from audit.loads where {where}""",
        [source, bill_cycle or key],
    ).fetchone()
    return dict(zip(["members", "rows_read", "rows_loaded", "rows_quarantined", "findings",
                     "unbalanced", "rejected", "first_error"], row))


def staging_result(totals: dict, asset_name: str, skipped: str | None = None, held: HeldDelivery | None = None, *,
                   key: str | None = None, staged: Sequence[StageOutcome] = ()) -> dg.MaterializeResult:
    """The materialization of a staging asset, file or API alike: the totals of what its tables hold
    now (`audit_totals`), the key of the delivery or snapshot they come from, what this run staged
    (`staged`, one line each, and the rule of a whole rejection) and the checks."""
    balanced = totals["unbalanced"] == 0
    clean = totals["rows_quarantined"] == 0 and totals["findings"] == 0 and totals["rejected"] == 0
    metadata = {k: v for k, v in totals.items() if k != "first_error" and v is not None}
    if key:
        metadata["object_key"] = key
    if staged:
        metadata["staged"] = "\n".join(outcome.summary() for outcome in staged)
        rejected_rules = [outcome.rejected_rule for outcome in staged if outcome.rejected_rule]
        if rejected_rules:
            metadata["rejected_rule"] = rejected_rules[0]
    if skipped:
        metadata["note"] = skipped
    if held is not None:
        metadata["held"] = held.message
    hold_check = [dg.AssetCheckResult(
        check_name=NOT_HELD, asset_key=asset_name, passed=held is None, severity=dg.AssetCheckSeverity.WARN,
        metadata={"held": held.message if held else "", "rule_id": held.rule_id if held else ""},
    )] if asset_name in HELD_SOURCE_ASSETS else []
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[*hold_check,
            dg.AssetCheckResult(
                check_name=ROWS_ADD_UP, asset_key=asset_name, passed=balanced,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"rows_read": totals["rows_read"], "rows_loaded": totals["rows_loaded"],
                          "rows_quarantined": totals["rows_quarantined"]},
            ),
            dg.AssetCheckResult(
                check_name=VALIDATION, asset_key=asset_name, passed=clean,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"rows_quarantined": totals["rows_quarantined"], "findings": totals["findings"],
                          "rejected_members": totals["rejected"],
                          "first_error": totals["first_error"] or ""},
            ),
        ],
    )


@dg.asset(group_name="staging", partitions_def=account_month_partitions, deps=[landed_bill_file],
          check_specs=staging_check_specs("stg_bill_lines"), kinds={"duckdb", "polars"},
          metadata=stages("staging.bill_line", "audit.restatement_line"))
def stg_bill_lines(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Typed, validated partner bill lines of the cycle (staging.bill_line).

    Grain: one bill line. Source: the current delivery of customerBill_YYYYMM.tar.gz. A re-delivery
    replaces the month whole, or is held (audit.held_deliveries) when it cannot be read whole or drops
    many lines or customers; an unchanged delivery is not loaded again.
    """
    cycle = run_month(context)
    key = bill_file_key(BillCycle.parse(cycle))
    with warehouse.connect() as con:
        delivery = current_delivery(con, key, warehouse.landing_path)
        if delivery is None:
            context.log.warning(f"no bill file landed for {cycle} ({key}); the month has no lines yet")
            with transaction(con):
                con.execute("delete from staging.bill_line where bill_cycle = ?", [cycle])
            return staging_result(audit_totals(con, "customerBill", cycle), "stg_bill_lines",
                           skipped=f"no bill file for {cycle} yet")
        if already_applied(con, "customerBill", key, delivery.etag, cycle, warehouse.member_limits()):
            context.log.info(f"{key} (ETag {delivery.etag}) is already staged; nothing to load")
            return staging_result(audit_totals(con, "customerBill", cycle), "stg_bill_lines", skipped="unchanged",
                                  key=key)
        staged, held = stage_unless_held(
            context, warehouse, con, delivery, "customerBill", cycle,
            lambda: stage_bill_delivery(con, delivery, cycle, context.run_id, warehouse.member_limits(),
                                        partner_account(run_partner(context))),
            bill_file_gauge(cycle))
        return staging_result(audit_totals(con, "customerBill", cycle), "stg_bill_lines", held=held, key=key,
                              staged=staged)


def stage_unless_held(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      con: duckdb.DuckDBPyConnection, delivery: Delivery, source: str, bill_cycle: str | None,
                      stage: Callable[[], StageOutcome],
                      gauge: Gauge) -> tuple[list[StageOutcome], HeldDelivery | None]:
    """Stage a delivery that replaces what months were built from, or hold it (pipelines/lib/holds.py).
    Returns what was staged (nothing for a delivery held already) and the hold, if any."""
    outcome, held = stage_or_hold(con, delivery, source, bill_cycle, stage, gauge, warehouse.hold_thresholds())
    if outcome is not None:
        log_stage_outcome(context, outcome)
    if held is not None:
        context.log.warning(held.message)
    return ([outcome] if outcome is not None else []), held


@dg.asset(group_name="staging", partitions_def=account_month_partitions, deps=[landed_usage_exports],
          check_specs=staging_check_specs("stg_usage_lines"), kinds={"duckdb", "polars"},
          metadata=stages("staging.usage_line"))
def stg_usage_lines(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Month-to-date usage lines from the newest daily export of the month (staging.usage_line).

    Grain: one usage line of the newest export. Source: customerUsageV2_YYYYMM_YYYYMMDD.tar.gz. The
    newest export date wins, whatever order exports arrive in, so a late old export never rolls back.
    """
    cycle = run_month(context)
    with warehouse.connect() as con:
        keys = [r[0] for r in con.execute(
            "select distinct object_key from landing.objects where object_key like ?",
            [f"{usage_export_prefix(BillCycle.parse(cycle))}%"],
        ).fetchall()]
        exports = sorted((parse_usage_key(k)[1], k) for k in keys if parse_usage_key(k))
        if not exports:
            return staging_result(audit_totals(con, "customerUsage", cycle), "stg_usage_lines",
                           skipped=f"no usage export for {cycle}")
        export_date, key = exports[-1]
        delivery = current_delivery(con, key, warehouse.landing_path)
        if already_staged(con, "customerUsage", key, delivery.etag, cycle, warehouse.member_limits()):
            return staging_result(audit_totals(con, "customerUsage", cycle), "stg_usage_lines", skipped="unchanged",
                                  key=key)
        with transaction(con):
            outcome = stage_usage_delivery(con, delivery, cycle, export_date, context.run_id,
                                           warehouse.member_limits(), partner_account(run_partner(context)))
        log_stage_outcome(context, outcome)
        return staging_result(audit_totals(con, "customerUsage", cycle), "stg_usage_lines", key=key,
                              staged=[outcome])


@dg.asset(group_name="staging", partitions_def=account_month_partitions, deps=[landed_agreements],
          check_specs=staging_check_specs("stg_customer_discounts"), kinds={"duckdb", "polars"},
          metadata=stages("staging.customer_discount"))
def stg_customer_discounts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The partner's customer discount agreements (staging.customer_discount), newest delivery.

    Grain: one agreement rule. Source: agreements/customer_discounts.csv. A re-delivery that cannot be
    read or would leave bill lines without their agreement is held (audit.held_deliveries).
    """
    return stage_agreement_file(context, warehouse, CUSTOMER_DISCOUNTS_KEY, "stg_customer_discounts",
                                stage_customer_discounts, agreements_gauge(),
                                when_missing="every customer is billed at list price", skipped="no agreements file")


@dg.asset(group_name="staging", partitions_def=account_month_partitions, deps=[landed_agreements],
          check_specs=staging_check_specs("stg_chart_of_accounts"), kinds={"duckdb", "polars"},
          metadata=stages("staging.chart_of_account"))
def stg_chart_of_accounts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The partner's ledger code and name per journal account (staging.chart_of_account).

    Grain: one account. Source: the newest delivery of agreements/chart_of_accounts.csv. Without it,
    the default chart of docs/journal.md applies. A re-delivery that cannot be read, or would drop
    more than the allowed share of the accounts it maps now, is held (audit.held_deliveries).
    """
    return stage_agreement_file(context, warehouse, CHART_OF_ACCOUNTS_KEY, "stg_chart_of_accounts",
                                stage_chart_of_accounts, chart_of_accounts_gauge(),
                                when_missing="the journal uses the default chart of accounts",
                                skipped="no chart of accounts file")


def stage_agreement_file(context: dg.AssetExecutionContext, warehouse: WarehouseResource, key: str, asset: str,
                         stage: Callable[[duckdb.DuckDBPyConnection, Delivery, str, MemberLimits], StageOutcome],
                         gauge: Gauge, *,
                         when_missing: str, skipped: str) -> dg.MaterializeResult:
    """Stage the newest delivery of an agreement file (whole-file, no bill cycle) unless it is staged
    already or held; without one, warn with what that means and report the asset as skipped."""
    with warehouse.connect() as con:
        delivery = current_delivery(con, key, warehouse.landing_path)
        if delivery is None:
            context.log.warning(f"{key} not found: {when_missing}")
            return staging_result(audit_totals(con, "agreements", None, key), asset, skipped=skipped)
        staged, held = [], None
        limits = warehouse.member_limits()
        if not already_applied(con, "agreements", key, delivery.etag, None, limits):
            staged, held = stage_unless_held(context, warehouse, con, delivery, "agreements", None,
                                             lambda: stage(con, delivery, context.run_id, limits), gauge)
        return staging_result(audit_totals(con, "agreements", None, key), asset, held=held, key=key, staged=staged)


def log_stage_outcome(context, outcome: StageOutcome) -> None:
    context.log.info(outcome.summary())
