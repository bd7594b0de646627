"""What each kind of delivery replaces when it is staged: the month's bill lines (with the
restatement against the delivery they had), the month's usage lines (the newest cumulative export),
the agreements, or the rows of a plain CSV object. The caller holds the transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import duckdb

from pipelines.lib import audit
from pipelines.lib.archives import Member, size_refusal
from pipelines.lib.landing import Delivery
from pipelines.lib.partners import Partner
from pipelines.lib.restatement import keep_previous_lines, record_restatement
from pipelines.lib.staging.archive import stage_archive
from pipelines.lib.staging.audit_rows import clear_audit
from pipelines.lib.staging.datasets import BILL_DATASET, Dataset, MemberLimits
from pipelines.lib.staging.members import stage_member
from pipelines.lib.staging.outcome import MemberOutcome, StageOutcome, record_load
from schemas.customer_discount import CustomerDiscountModel
from schemas.datasets import CUSTOMER_DISCOUNT, USAGE_LINE
from schemas.rules import rule
from schemas.usage_line import UsageLineModel

CUSTOMER_DISCOUNTS_KEY = "agreements/customer_discounts.csv"


def stage_bill_delivery(con: duckdb.DuckDBPyConnection, delivery: Delivery, bill_cycle: str, load_id: str,
                        limits: MemberLimits, account: Partner | None = None) -> StageOutcome:
    """Replace the cycle's bill lines with this delivery (caller holds the transaction).

    When another delivery of the month was staged before, the lines it had are kept aside and
    compared with the new ones: a restatement is recorded line by line in audit.restatement_line."""
    previous = con.execute(
        "select any_value(etag) from audit.loads where source = 'customerBill' and bill_cycle = ? and etag <> ?",
        [bill_cycle, delivery.etag]).fetchone()[0]
    if previous:
        keep_previous_lines(con, bill_cycle)
    con.execute("delete from staging.bill_line where bill_cycle = ?", [bill_cycle])
    clear_audit(con, "customerBill", bill_cycle)
    outcome = stage_archive(con, delivery, BILL_DATASET, bill_cycle, load_id, limits, account)
    if previous:
        record_restatement(con, delivery, bill_cycle, previous)
    return outcome


def stage_usage_delivery(con: duckdb.DuckDBPyConnection, delivery: Delivery, bill_cycle: str, export_date: date,
                         load_id: str, limits: MemberLimits, account: Partner | None = None) -> StageOutcome:
    """Replace the month's usage lines with this (newest) cumulative export."""
    con.execute("delete from staging.usage_line where bill_cycle = ?", [bill_cycle])
    clear_audit(con, "customerUsage", bill_cycle)
    dataset = Dataset("customerUsage", USAGE_LINE, UsageLineModel, "staging.usage_line",
                      extra_columns={"export_date": export_date})
    return stage_archive(con, delivery, dataset, bill_cycle, load_id, limits, account)


def stage_customer_discounts(con: duckdb.DuckDBPyConnection, delivery: Delivery, load_id: str,
                             limits: MemberLimits) -> StageOutcome:
    """Replace the agreements with this delivery of CUSTOMER_DISCOUNTS_KEY."""
    con.execute("delete from staging.customer_discount")
    dataset = Dataset("agreements", CUSTOMER_DISCOUNT, CustomerDiscountModel, "staging.customer_discount")

    def add_overlap_findings(member: MemberOutcome) -> None:
        overlaps = _agreement_overlaps(con, delivery, load_id)
        if overlaps:
            member.findings_count += overlaps
            member.status = "warning" if member.status == "ok" else member.status
            member.first_error = member.first_error or rule("AGREEMENT.OVERLAP").title

    return stage_csv_object(con, delivery, dataset, None, load_id, limits, after_load=add_overlap_findings)


def stage_csv_object(con: duckdb.DuckDBPyConnection, delivery: Delivery, dataset: Dataset, bill_cycle: str | None,
                     load_id: str, limits: MemberLimits,
                     after_load: Callable[[MemberOutcome], None] | None = None) -> StageOutcome:
    """Stage a plain CSV object (an agreement file, an incentive statement) as one member, replacing
    its earlier audit rows (of the source and cycle, or of the key when there is no cycle). The
    caller has cleared the target table's rows this delivery replaces. `after_load` may add findings
    on the loaded rows before the load is recorded. An object over the member-size limit is refused
    unread, as an archive member is."""
    clear_audit(con, dataset.source, bill_cycle, delivery.object_key)
    refused = size_refusal(delivery.local_path.stat().st_size, limits.max_bytes)
    member = (Member(delivery.object_key, None, *refused) if refused
              else Member(delivery.object_key, delivery.local_path.read_bytes()))
    member_outcome = stage_member(con, delivery, dataset, bill_cycle, load_id, member, limits)
    if after_load is not None:
        after_load(member_outcome)
    member_outcome.member = None
    outcome = StageOutcome(dataset.source, delivery.object_key, bill_cycle, members=[member_outcome])
    record_load(con, outcome, member_outcome, load_id, delivery.etag, delivery.sha256)
    return outcome


def _agreement_overlaps(con: duckdb.DuckDBPyConnection, delivery: Delivery, load_id: str) -> int:
    """Two rules for the same customer/service/resource overlapping in time cannot both apply."""
    info = rule("AGREEMENT.OVERLAP")
    before = con.execute("select count(*) from audit.findings where load_id = ?", [load_id]).fetchone()[0]
    audit.insert_select(
        con, "audit.findings",
        ("load_id", "source", "object_key", "member", "bill_cycle", "line_number", "record_number", "rule_id",
         "severity", "customer_id", "reference", "expected", "actual", "difference_amount", "message"),
        """select ?, 'agreements', ?, null, null, b.src_record + 1, b.src_record, ?, ?, b.customer_id,
                  b.service_type_code || ' / ' || b.resource_type_code, a.discount_rate, b.discount_rate,
                  b.discount_rate - a.discount_rate,
                  ? || ' (records ' || a.src_record || ' and ' || b.src_record || ')'
           from staging.customer_discount a
           join staging.customer_discount b
             on a.customer_id = b.customer_id and a.service_type_code = b.service_type_code
            and a.resource_type_code = b.resource_type_code and a.src_record < b.src_record
            and a.valid_from <= coalesce(b.valid_to, date '9999-12-31')
            and b.valid_from <= coalesce(a.valid_to, date '9999-12-31')
           order by a.src_record, b.src_record""",
        [load_id, delivery.object_key, info.rule_id, info.severity, f"{info.title}; {info.action}"],
    )
    return con.execute("select count(*) from audit.findings where load_id = ?", [load_id]).fetchone()[0] - before
