"""One member (an archive's CSV file, or a whole plain CSV object): parsed and validated off the
main thread, then its rows, quarantined rows and findings written, and its outcome worked out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.archives import Member
from pipelines.lib.landing import Delivery
from pipelines.lib.parsing import FINDING_SCHEMA, MemberRejected, ParsedMember, parse_member, physical_line_numbers
from pipelines.lib.rejections import with_action
from pipelines.lib.staging.audit_rows import insert_member_rows, record_rejection
from pipelines.lib.staging.datasets import Dataset, MemberLimits
from pipelines.lib.staging.duplicates import line_hashes
from pipelines.lib.staging.outcome import MemberOutcome
from pipelines.lib.staging.rows import insert_rows, rows_for_table


@dataclass
class ParsedForLoading:
    """A member parsed off the main thread: what the loader writes, or why the member is refused."""

    member: Member
    parsed: ParsedMember | None = None
    findings: pl.DataFrame | None = None
    lines: dict[int, int] = field(default_factory=dict)
    rejected: MemberRejected | None = None
    spool_path: Path | None = None  # the loaded rows, written as Parquet (archives only)
    line_hashes: pl.DataFrame | None = None
    """With a spool and a dataset that detects duplicates: each spooled row's record and line hash."""


def parse_for_loading(dataset: Dataset, bill_cycle: str | None, member: Member,
                      limits: MemberLimits, spool_path: Path | None = None) -> ParsedForLoading:
    """Everything about a member that needs no database: runs in a worker thread. With a
    `spool_path`, the loaded rows are written there and dropped from memory."""
    if member.data is None:
        return ParsedForLoading(member)
    try:
        parsed, text = parse_member(member.data, dataset.spec, dataset.model, bill_cycle, limits.max_rows)
    except MemberRejected as exc:
        return ParsedForLoading(member, rejected=exc)
    findings = dataset.findings(parsed.loaded) if dataset.findings else pl.DataFrame(schema=FINDING_SCHEMA)
    positions = set(parsed.quarantined["record_number"]) | set(findings["record_number"])
    lines = physical_line_numbers(text.decode("utf-8"), positions) if positions else {}
    if spool_path is None or not parsed.loaded.height:
        return ParsedForLoading(member, parsed, findings, lines)
    rows = rows_for_table(dataset, parsed.loaded, member.name)
    rows.write_parquet(spool_path, compression="lz4", statistics=False)
    hashes = line_hashes(rows, dataset.spec.column_names) if dataset.detect_duplicates else None
    parsed.spooled_rows = parsed.loaded.height
    parsed.loaded = parsed.loaded.clear()
    return ParsedForLoading(member, parsed, findings, lines, spool_path=spool_path, line_hashes=hashes)


def stage_member(con: duckdb.DuckDBPyConnection, delivery: Delivery, dataset: Dataset, bill_cycle: str | None,
                 load_id: str, member: Member, limits: MemberLimits) -> MemberOutcome:
    """Parse and load one member on this thread (a plain CSV object)."""
    return load_member(con, delivery, dataset, bill_cycle, load_id,
                       parse_for_loading(dataset, bill_cycle, member, limits), limits)


def load_member(con: duckdb.DuckDBPyConnection, delivery: Delivery, dataset: Dataset, bill_cycle: str | None,
                load_id: str, prepared: ParsedForLoading, limits: MemberLimits) -> MemberOutcome:
    """Write a parsed member's rows (unless spooled), quarantined rows and findings; its outcome."""
    member = prepared.member
    if member.data is None:  # refused unread (pipelines/lib/archives.py)
        message = with_action(member.rule_id, member.problem)
        record_rejection(con, delivery, dataset.source, bill_cycle, load_id, member.name, member.rule_id, message)
        return MemberOutcome(member.name, 0, 0, 0, 0, "rejected", message)
    if prepared.rejected is not None:
        exc = prepared.rejected
        rows = exc.rows_read
        message = with_action(exc.rule_id, str(exc))
        record_rejection(con, delivery, dataset.source, bill_cycle, load_id, member.name, exc.rule_id, message,
                         rows=rows)
        return MemberOutcome(member.name, rows, 0, rows, 0, "rejected", message)
    parsed, findings, lines = prepared.parsed, prepared.findings, prepared.lines
    if prepared.spool_path is None:
        insert_rows(con, dataset, parsed, delivery, member.name, load_id)
    for table, rows in (("audit.quarantine", parsed.quarantined), ("audit.findings", findings)):
        insert_member_rows(con, table, rows, lines, delivery, dataset.source, bill_cycle, load_id, member.name)
    warnings = ([member.warning] if member.warning else []) + parsed.warnings
    if parsed.rows_read > limits.documented_rows:
        warnings.append(f"member has {parsed.rows_read} rows, more than the documented {limits.documented_rows}")
    status = ("quarantined_rows" if parsed.quarantined.height
              else "warning" if findings.height or warnings else "ok")
    first_error = member.warning or parsed.first_error  # a member's name tells where the rest is
    if first_error is None and findings.height:
        row = findings.row(0, named=True)
        first_error = f"record {row['record_number']}: {row['message']}"
    if first_error is None and warnings:
        first_error = warnings[0]
    return MemberOutcome(member.name, parsed.rows_read, parsed.rows_loaded, parsed.quarantined.height,
                         findings.height, status, first_error)
