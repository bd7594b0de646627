"""Staging: a landed delivery → typed, validated rows in DuckDB, with every rejected row in
audit.quarantine and every finding in audit.findings. One delivery is staged in one transaction
(the caller's), so a month is replaced whole or not at all."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl

from pipelines.lib.archives import ArchiveRejected, Member, iter_csv_members, size_refusal
from pipelines.lib.csv_reading import utf8_bytes
from pipelines.lib.findings import bill_line_findings
from pipelines.lib.landing import Delivery
from pipelines.lib.parsing import FINDING_SCHEMA, MemberRejected, ParsedMember, parse_member, physical_line_numbers
from pipelines.lib.restatement import keep_previous_lines, record_restatement
from pipelines.lib.warehouse import database_path
from schemas.bill_line import BillLineModel
from schemas.customer_discount import CustomerDiscountModel
from schemas.datasets import BILL_LINE, CUSTOMER_DISCOUNT, USAGE_LINE, DatasetSpec
from schemas.rules import rule
from schemas.usage_line import UsageLineModel


@dataclass(frozen=True)
class MemberLimits:
    """Per-member limits: beyond `max_bytes` or `max_rows` a member is refused unread (a decompression
    bomb stops there); beyond HUAWEI CLOUD's documented 100,000 rows it loads with a warning."""

    max_bytes: int = 1 << 30
    max_rows: int = 5_000_000
    documented_rows: int = 100_000

PARSE_THREADS = 2   # the machine has two cores; the main thread inflates the archive meanwhile
PARSE_AHEAD = 3     # members inflated or parsed but not yet spooled, at most (bounds memory)
SPOOL_PREFIX = ".billrecon-spool-"

BILL_KEY = re.compile(r"^customerBill/customerBill_(\d{4})(\d{2})\.tar\.gz$")
USAGE_KEY = re.compile(r"^customerUsage/customerUsageV2_(\d{4})(\d{2})_(\d{8})\.tar\.gz$")


@dataclass
class MemberOutcome:
    member: str | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    findings_count: int
    status: str
    first_error: str | None


@dataclass
class StageResult:
    object_key: str
    bill_cycle: str | None
    members: list[MemberOutcome] = field(default_factory=list)
    rejected: str | None = None

    @property
    def rows_read(self) -> int:
        return sum(m.rows_read for m in self.members)

    @property
    def rows_loaded(self) -> int:
        return sum(m.rows_loaded for m in self.members)

    @property
    def rows_quarantined(self) -> int:
        return sum(m.rows_quarantined for m in self.members)

    @property
    def findings_count(self) -> int:
        return sum(m.findings_count for m in self.members)


@dataclass(frozen=True)
class Dataset:
    """How one source dataset is staged."""

    source: str
    spec: DatasetSpec
    model: type[pa.DataFrameModel]
    table: str
    findings: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    extra_columns: dict[str, object] = field(default_factory=dict)
    # a delivered line identical to an earlier one of the same delivery is a duplicate, not spend
    detect_duplicates: bool = False


BILL_DATASET = Dataset("customerBill", BILL_LINE, BillLineModel, "staging.bill_line", bill_line_findings,
                       detect_duplicates=True)


def cycle_from_bill_key(key: str) -> str | None:
    match = BILL_KEY.match(key)
    return f"{match.group(1)}-{match.group(2)}" if match else None


def parse_usage_key(key: str) -> tuple[str, date] | None:
    match = USAGE_KEY.match(key)
    if not match:
        return None
    return f"{match.group(1)}-{match.group(2)}", datetime.strptime(match.group(3), "%Y%m%d").date()


def stage_bill_delivery(con: duckdb.DuckDBPyConnection, delivery: Delivery, bill_cycle: str, load_id: str,
                        limits: MemberLimits) -> StageResult:
    """Replace the cycle's bill lines with this delivery (caller holds the transaction).

    When another delivery of the month was staged before, the lines it had are kept aside and
    compared with the new ones: a restatement is recorded line by line in audit.restatement_line."""
    previous = con.execute(
        "select any_value(etag) from audit.loads where source = 'customerBill' and bill_cycle = ? and etag <> ?",
        [bill_cycle, delivery.etag]).fetchone()[0]
    if previous:
        keep_previous_lines(con, bill_cycle)
    con.execute("delete from staging.bill_line where bill_cycle = ?", [bill_cycle])
    _clear_audit(con, "customerBill", bill_cycle)
    result = _stage_archive(con, delivery, BILL_DATASET, bill_cycle, load_id, limits)
    if previous:
        record_restatement(con, delivery, bill_cycle, previous)
    return result




def stage_usage_delivery(con: duckdb.DuckDBPyConnection, delivery: Delivery, bill_cycle: str, export_date: date,
                         load_id: str, limits: MemberLimits) -> StageResult:
    """Replace the month's usage lines with this (newest) cumulative export."""
    con.execute("delete from staging.usage_line where bill_cycle = ?", [bill_cycle])
    _clear_audit(con, "customerUsage", bill_cycle)
    dataset = Dataset("customerUsage", USAGE_LINE, UsageLineModel, "staging.usage_line",
                      extra_columns={"export_date": export_date})
    return _stage_archive(con, delivery, dataset, bill_cycle, load_id, limits)


def stage_customer_discounts(con: duckdb.DuckDBPyConnection, delivery: Delivery, load_id: str) -> StageResult:
    """Replace the agreements with this delivery of customer_discounts.csv."""
    con.execute("delete from staging.customer_discount")
    dataset = Dataset("agreements", CUSTOMER_DISCOUNT, CustomerDiscountModel, "staging.customer_discount")

    def add_overlap_findings(outcome: MemberOutcome) -> None:
        overlaps = _agreement_overlaps(con, delivery, load_id)
        if overlaps:
            outcome.findings_count += overlaps
            outcome.status = "warning" if outcome.status == "ok" else outcome.status
            outcome.first_error = outcome.first_error or rule("AGREEMENT.OVERLAP").title

    return stage_csv_object(con, delivery, dataset, None, load_id, after_load=add_overlap_findings)


def stage_csv_object(con: duckdb.DuckDBPyConnection, delivery: Delivery, dataset: Dataset, bill_cycle: str | None,
                     load_id: str, after_load: Callable[[MemberOutcome], None] | None = None,
                     limits: MemberLimits = MemberLimits()) -> StageResult:
    """Stage a plain CSV object (an agreement file, an incentive statement) as one member, replacing
    its earlier audit rows (of the source and cycle, or of the key when there is no cycle). The
    caller has cleared the target table's rows this delivery replaces. `after_load` may add findings
    on the loaded rows before the load is recorded. An object over the member-size limit is refused
    unread, as an archive member is."""
    _clear_audit(con, dataset.source, bill_cycle, delivery.object_key)
    refused = size_refusal(delivery.local_path.stat().st_size, limits.max_bytes)
    member = (Member(delivery.object_key, None, *refused) if refused
              else Member(delivery.object_key, delivery.local_path.read_bytes()))
    outcome = _stage_member(con, delivery, dataset, bill_cycle, load_id, member, limits)
    if after_load is not None:
        after_load(outcome)
    outcome.member = None
    result = StageResult(delivery.object_key, bill_cycle, members=[outcome])
    _record_load(con, delivery, dataset.source, bill_cycle, load_id, outcome)
    return result


def _agreement_overlaps(con, delivery: Delivery, load_id: str) -> int:
    """Two rules for the same customer/service/resource overlapping in time cannot both apply."""
    info = rule("AGREEMENT.OVERLAP")
    before = con.execute("select count(*) from audit.findings where load_id = ?", [load_id]).fetchone()[0]
    con.execute(
        """insert into audit.findings (load_id, source, object_key, member, bill_cycle, line_number, record_number,
               rule_id, severity, customer_id, reference, expected, actual, difference_amount, message)
           select ?, 'agreements', ?, null, null, b.src_record + 1, b.src_record, ?, ?, b.customer_id,
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


def _clear_audit(con: duckdb.DuckDBPyConnection, source: str, bill_cycle: str | None, object_key: str | None = None):
    for table in ("audit.loads", "audit.quarantine", "audit.findings"):
        if bill_cycle is not None:
            con.execute(f"delete from {table} where source = ? and bill_cycle = ?", [source, bill_cycle])
        else:
            con.execute(f"delete from {table} where source = ? and object_key = ?", [source, object_key])


def _stage_archive(con, delivery: Delivery, dataset: Dataset, bill_cycle: str, load_id: str,
                   limits: MemberLimits) -> StageResult:
    result = StageResult(delivery.object_key, bill_cycle)
    with _spool_dir(con) as spool:
        try:
            # The main thread inflates the archive while worker threads parse and validate members
            # (polars and pandera release the GIL) and write each member's rows to a Parquet file in
            # the spool folder. At most PARSE_AHEAD members are in memory, so memory stays flat
            # however long the month is. Audit rows are recorded in archive order.
            spooled: list[Path] = []
            with ThreadPoolExecutor(max_workers=PARSE_THREADS, thread_name_prefix="parse") as pool:
                pending: deque = deque()

                def record_oldest() -> None:
                    prepared = pending.popleft().result()
                    result.members.append(_load_member(con, delivery, dataset, bill_cycle, load_id, prepared,
                                                       limits))
                    if prepared.spool_path is not None:
                        spooled.append(prepared.spool_path)

                for number, member in enumerate(iter_csv_members(delivery.local_path, limits.max_bytes)):
                    target = spool / f"member-{number:05d}.parquet"
                    pending.append(pool.submit(_parse_for_loading, dataset, bill_cycle, member, limits, target))
                    if len(pending) >= PARSE_AHEAD:
                        record_oldest()
                while pending:
                    record_oldest()
            # one insert of the whole delivery: DuckDB writes row groups on both cores at once
            _insert_spooled(con, dataset, spooled, delivery, load_id)
            if dataset.detect_duplicates:
                _quarantine_duplicate_lines(con, delivery, dataset, bill_cycle, load_id, result, limits.max_bytes)
        except ArchiveRejected as exc:
            # nothing of a broken archive is loaded: a month is whole or absent
            con.execute(f"delete from {dataset.table} where load_id = ?", [load_id])
            for table in ("audit.loads", "audit.quarantine", "audit.findings"):
                con.execute(f"delete from {table} where load_id = ?", [load_id])
            result.members = [MemberOutcome(None, 0, 0, 0, 0, "rejected", str(exc))]
            result.rejected = str(exc)
            _record_rejection(con, delivery, dataset.source, bill_cycle, load_id, None, exc.rule_id, str(exc))
    for outcome in result.members:
        _record_load(con, delivery, dataset.source, bill_cycle, load_id, outcome)
    return result


@contextlib.contextmanager
def _spool_dir(con: duckdb.DuckDBPyConnection) -> Iterator[Path]:
    """A scratch folder beside the warehouse file (same disk), removed afterwards.

    Spool folders left by a killed run are removed first: only the process holding the warehouse's
    write lock stages, so no other run can be using them."""
    database = database_path(con)
    base = Path(database).parent if database else Path(tempfile.gettempdir())
    if database:
        for leftover in base.glob(SPOOL_PREFIX + "*"):
            shutil.rmtree(leftover, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=SPOOL_PREFIX, dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _insert_spooled(con, dataset: Dataset, files: list[Path], delivery: Delivery, load_id: str) -> None:
    """Insert every spooled member with one statement. Row order in a table carries no meaning
    (every reader orders explicitly), so DuckDB may append row groups in parallel."""
    if not files:
        return
    paths = [str(f) for f in files]
    spooled_columns = [r[0] for r in con.execute("describe select * from read_parquet($files)",
                                                 {"files": paths[:1]}).fetchall()]
    (preserve,), = con.execute("select current_setting('preserve_insertion_order')").fetchall()
    con.execute("set preserve_insertion_order = false")
    try:
        _insert_with_lineage(con, dataset, spooled_columns, "read_parquet($files)", delivery, load_id,
                             {"files": paths})
    finally:
        con.execute(f"set preserve_insertion_order = {'true' if preserve else 'false'}")


def _insert_with_lineage(con, dataset: Dataset, columns: list[str], source: str, delivery: Delivery,
                         load_id: str, parameters: dict | None = None) -> None:
    """Insert the `columns` of the relation `source` that the target table has, each row stamped
    with the delivery's lineage (object, content hash, load)."""
    target_columns = {r[0] for r in con.execute(f"describe {dataset.table}").fetchall()}
    kept = ", ".join(c for c in columns if c in target_columns)
    lineage = {"src_object": delivery.object_key, "src_sha256": delivery.sha256, "load_id": load_id}
    assignments = ", ".join(f"${k} as {k}" for k in lineage)
    con.execute(f"insert into {dataset.table} by name select {kept}, {assignments} from {source}",
                {**lineage, **(parameters or {})})


def _quarantine_duplicate_lines(con, delivery: Delivery, dataset: Dataset, bill_cycle: str, load_id: str,
                                result: StageResult, max_member_bytes: int) -> None:
    """Move every repeat of an identical line (in any member) to quarantine; the first stays loaded."""
    info = rule("FILE.DUPLICATE_LINE")
    content = ", ".join(dataset.spec.column_names)
    # hash every line once, then look closer only at hashes that occur more than once
    con.execute(
        f"""create or replace temp table duplicate_lines as
            with hashed as (
                select src_member, src_record, hash({content}) as line_hash
                from {dataset.table} where load_id = ?
            ),
            repeated as (
                select line_hash from hashed group by line_hash having count(*) > 1
            ),
            candidates as (
                select lines.*, hashed.line_hash
                from hashed
                join repeated using (line_hash)
                join {dataset.table} as lines using (src_member, src_record)
                where lines.load_id = ?
            )
            select * from (
                select *, row_number() over same_line as occurrence,
                       first_value(src_member) over same_line as first_member,
                       first_value(src_record) over same_line as first_record
                from candidates
                window same_line as (partition by line_hash, {content} order by src_member, src_record)
            ) where occurrence > 1""",
        [load_id, load_id],
    )
    found = con.execute("select src_member, count(*) from duplicate_lines group by 1").fetchall()
    if not found:
        return
    con.execute(
        """insert into audit.quarantine (load_id, source, object_key, member, bill_cycle, line_number,
               record_number, rule_id, reason, raw_record)
           select ?, ?, ?, src_member, ?, null, src_record, ?,
                  'the same line as ' || first_member || ' record ' || first_record || ': ' || ?,
                  to_json(d)::varchar
           from (select * exclude (occurrence, first_member, first_record, line_hash, load_id, src_sha256)
                 from duplicate_lines) d
           join duplicate_lines using (src_member, src_record)""",
        [load_id, dataset.source, delivery.object_key, bill_cycle, info.rule_id, info.title],
    )
    _locate_duplicate_lines(con, delivery, dataset, load_id, info.rule_id, max_member_bytes)
    con.execute(
        f"""delete from {dataset.table} where load_id = ? and (src_member, src_record) in
            (select (src_member, src_record) from duplicate_lines)""", [load_id])
    by_member = dict(found)
    for outcome in result.members:
        moved = by_member.get(outcome.member, 0)
        if moved:
            outcome.rows_loaded -= moved
            outcome.rows_quarantined += moved
            outcome.status = "quarantined_rows" if outcome.status != "rejected" else outcome.status
            outcome.first_error = outcome.first_error or f"{moved} duplicate line(s): {info.title}"
    con.execute("drop table duplicate_lines")


def _locate_duplicate_lines(con, delivery: Delivery, dataset: Dataset, load_id: str, rule_id: str,
                            max_member_bytes: int) -> None:
    """Give each duplicate line's quarantine row the physical line it starts on, as every other
    quarantined row has: a quoted field may span lines, so the record number alone can point a
    reader at the wrong line. Duplicates are found after the members left memory, so the members
    holding one are read again from the landed archive; a month without duplicates reads nothing."""
    wanted: dict[str, set[int]] = {}
    for member, record in con.execute("select src_member, src_record from duplicate_lines").fetchall():
        wanted.setdefault(member, set()).add(record)
    located = []
    for member in iter_csv_members(delivery.local_path, max_member_bytes):
        records = wanted.pop(member.name, None)
        if records and member.data is not None:
            text, _ = utf8_bytes(member.data, dataset.spec)  # as parsed: BOM dropped, GBK converted
            located += [(member.name, record, line)
                        for record, line in physical_line_numbers(text.decode("utf-8"), records).items()]
        if not wanted:
            break
    if not located:
        return
    con.register("duplicate_line_numbers", pl.DataFrame(
        located, schema={"member": pl.Utf8, "record_number": pl.Int64, "line_number": pl.Int64}, orient="row",
    ).to_arrow())
    try:
        con.execute(
            """update audit.quarantine set line_number = located.line_number
               from duplicate_line_numbers as located
               where audit.quarantine.load_id = ? and audit.quarantine.rule_id = ?
                 and audit.quarantine.member = located.member
                 and audit.quarantine.record_number = located.record_number""", [load_id, rule_id])
    finally:
        con.unregister("duplicate_line_numbers")


@dataclass
class _ParsedForLoading:
    """A member parsed off the main thread: what the loader writes, or why the member is refused."""

    member: Member
    parsed: ParsedMember | None = None
    findings: pl.DataFrame | None = None
    lines: dict[int, int] = field(default_factory=dict)
    rejected: MemberRejected | None = None
    spool_path: Path | None = None  # the loaded rows, written as Parquet (archives only)


def _parse_for_loading(dataset: Dataset, bill_cycle: str | None, member: Member,
                       limits: MemberLimits, spool_path: Path | None = None) -> _ParsedForLoading:
    """Everything about a member that needs no database: runs in a worker thread. With a
    `spool_path`, the loaded rows are written there and dropped from memory."""
    if member.data is None:
        return _ParsedForLoading(member)
    try:
        parsed, text = parse_member(member.data, dataset.spec, dataset.model, bill_cycle, limits.max_rows)
    except MemberRejected as exc:
        return _ParsedForLoading(member, rejected=exc)
    findings = dataset.findings(parsed.loaded) if dataset.findings else pl.DataFrame(schema=FINDING_SCHEMA)
    positions = set(parsed.quarantined["record_number"]) | set(findings["record_number"])
    lines = physical_line_numbers(text.decode("utf-8"), positions) if positions else {}
    if spool_path is None or not parsed.loaded.height:
        return _ParsedForLoading(member, parsed, findings, lines)
    _rows_for_table(dataset, parsed.loaded, member.name).write_parquet(spool_path, compression="lz4",
                                                                        statistics=False)
    parsed.spooled_rows = parsed.loaded.height
    parsed.loaded = parsed.loaded.clear()
    return _ParsedForLoading(member, parsed, findings, lines, spool_path=spool_path)


def _stage_member(con, delivery: Delivery, dataset: Dataset, bill_cycle: str | None, load_id: str,
                  member: Member, limits: MemberLimits = MemberLimits()) -> MemberOutcome:
    return _load_member(con, delivery, dataset, bill_cycle, load_id,
                        _parse_for_loading(dataset, bill_cycle, member, limits), limits)


def _load_member(con, delivery: Delivery, dataset: Dataset, bill_cycle: str | None, load_id: str,
                 prepared: _ParsedForLoading, limits: MemberLimits) -> MemberOutcome:
    member = prepared.member
    if member.data is None:
        _record_rejection(con, delivery, dataset.source, bill_cycle, load_id, member.name,
                          member.rule_id, member.problem)
        return MemberOutcome(member.name, 0, 0, 0, 0, "rejected", member.problem)
    if prepared.rejected is not None:
        exc = prepared.rejected
        rows = exc.rows_read
        message = f"{exc} — {rule(exc.rule_id).action}"
        _record_rejection(con, delivery, dataset.source, bill_cycle, load_id, member.name, exc.rule_id, message,
                          rows=rows)
        return MemberOutcome(member.name, rows, 0, rows, 0, "rejected", message)
    parsed, findings, lines = prepared.parsed, prepared.findings, prepared.lines
    if prepared.spool_path is None:
        _insert_rows(con, dataset, parsed, delivery, member.name, load_id)
    _insert_audit(con, "audit.quarantine", parsed.quarantined, lines, delivery, dataset.source, bill_cycle,
                  load_id, member.name)
    _insert_audit(con, "audit.findings", findings, lines, delivery, dataset.source, bill_cycle, load_id, member.name)
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


def _rows_for_table(dataset: Dataset, loaded: pl.DataFrame, member: str) -> pl.DataFrame:
    """The loaded rows with the target table's columns and the member's lineage (record, member)."""
    columns = [*dataset.spec.column_names, "extra"]
    if dataset.spec.local_time_column:
        columns.append("trade_date_local")
    return loaded.select(
        *columns,
        pl.col("record_number").alias("src_record"),
        pl.lit(member, pl.Utf8).alias("src_member"),
        *[pl.lit(v).alias(k) for k, v in dataset.extra_columns.items()],
    )


def _insert_rows(con, dataset: Dataset, parsed: ParsedMember, delivery: Delivery, member: str, load_id: str):
    if not parsed.loaded.height:
        return
    frame = _rows_for_table(dataset, parsed.loaded, member)
    con.register("incoming_rows", frame.to_arrow())
    try:
        _insert_with_lineage(con, dataset, frame.columns, "incoming_rows", delivery, load_id)
    finally:
        con.unregister("incoming_rows")


def _insert_audit(con, table: str, rows: pl.DataFrame, lines: dict[int, int], delivery: Delivery, source: str,
                  bill_cycle: str | None, load_id: str, member: str):
    if not rows.height:
        return
    frame = rows.with_columns(
        pl.col("record_number").replace_strict(lines, default=None, return_dtype=pl.Int64).alias("line_number"),
        pl.lit(load_id).alias("load_id"),
        pl.lit(source).alias("source"),
        pl.lit(delivery.object_key).alias("object_key"),
        pl.lit(member).alias("member"),
    )
    if "bill_cycle" not in frame.columns:
        frame = frame.with_columns(pl.lit(bill_cycle, pl.Utf8).alias("bill_cycle"))
    con.register("incoming_audit", frame.to_arrow())
    try:
        con.execute(f"insert into {table} by name select * from incoming_audit")
    finally:
        con.unregister("incoming_audit")


def _record_rejection(con, delivery: Delivery, source: str, bill_cycle: str | None, load_id: str,
                      member: str | None, rule_id: str, message: str, rows: int = 0):
    con.execute(
        """insert into audit.quarantine (load_id, source, object_key, member, bill_cycle, line_number,
           record_number, rule_id, reason, raw_record) values (?, ?, ?, ?, ?, null, null, ?, ?, null)""",
        [load_id, source, delivery.object_key, member, bill_cycle, rule_id,
         f"{message}" + (f" ({rows} rows not loaded)" if rows else "")],
    )


def _record_load(con, delivery: Delivery, source: str, bill_cycle: str | None, load_id: str, outcome: MemberOutcome):
    con.execute(
        """insert into audit.loads values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [load_id, source, delivery.object_key, delivery.etag, delivery.sha256, outcome.member, bill_cycle,
         outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined, outcome.findings_count,
         outcome.status, outcome.first_error, datetime.now(UTC)],
    )
