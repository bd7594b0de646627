"""The archive loop: a delivered tar.gz read member by member, parsed on worker threads while the
main thread inflates the next ones, spooled to Parquet beside the warehouse and inserted in one
statement. A broken archive loads nothing: a month is whole or absent."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib import audit
from pipelines.lib.archives import ArchiveRejected, Member, iter_csv_members
from pipelines.lib.csv_reading import MemberRejected, NotUtf8, header_row, utf8_bytes
from pipelines.lib.landing import Delivery
from pipelines.lib.partners import Partner
from pipelines.lib.rejections import with_action
from pipelines.lib.staging.account import account_findings, header_facts
from pipelines.lib.staging.audit_rows import record_rejection
from pipelines.lib.staging.datasets import Dataset, MemberLimits
from pipelines.lib.staging.duplicates import quarantine_duplicate_lines
from pipelines.lib.staging.members import load_member, parse_for_loading
from pipelines.lib.staging.outcome import MemberOutcome, StageOutcome, record_load
from pipelines.lib.staging.rows import insert_spooled
from pipelines.lib.warehouse import database_path
from schemas.rules import rule

PARSE_THREADS = 2   # the machine has two cores; the main thread inflates the archive meanwhile
PARSE_AHEAD = 3     # members inflated or parsed but not yet spooled, at most (bounds memory)
SPOOL_PREFIX = ".billrecon-spool-"


def stage_archive(con: duckdb.DuckDBPyConnection, delivery: Delivery, dataset: Dataset, bill_cycle: str,
                  load_id: str, limits: MemberLimits, account: Partner | None = None) -> StageOutcome:
    """Stage every CSV member of the delivered archive and record one audit.loads row per member
    (the caller has cleared what the delivery replaces and holds the transaction). With `account`, the
    first member's headers are checked against its site and currency (staging/account.py)."""
    outcome = StageOutcome(dataset.source, delivery.object_key, bill_cycle)
    first: tuple[str, list[str]] | None = None   # the first readable member: its name and header row
    with _spool_dir(con) as spool:
        try:
            # The main thread inflates the archive while worker threads parse and validate members
            # (polars and pandera release the GIL) and write each member's rows to a Parquet file in
            # the spool folder. At most PARSE_AHEAD members are in memory, so memory stays flat
            # however long the month is. Audit rows are recorded in archive order.
            spooled: list[Path] = []
            hashes: dict[str, pl.DataFrame] = {}  # each spooled member's line hashes (duplicates.py)
            with ThreadPoolExecutor(max_workers=PARSE_THREADS, thread_name_prefix="parse") as pool:
                pending: deque = deque()

                def record_oldest() -> None:
                    prepared = pending.popleft().result()
                    outcome.members.append(load_member(con, delivery, dataset, bill_cycle, load_id, prepared,
                                                       limits))
                    if prepared.spool_path is not None:
                        spooled.append(prepared.spool_path)
                        if prepared.line_hashes is not None:
                            hashes[prepared.member.name] = prepared.line_hashes

                for number, member in enumerate(iter_csv_members(delivery.local_path, limits.max_bytes)):
                    if first is None and account is not None and member.data:
                        first = _header_of(member, dataset)  # only the header is kept: memory stays flat
                    target = spool / f"member-{number:05d}.parquet"
                    pending.append(pool.submit(parse_for_loading, dataset, bill_cycle, member, limits, target))
                    if len(pending) >= PARSE_AHEAD:
                        record_oldest()
                while pending:
                    record_oldest()
            # one insert of the whole delivery: DuckDB writes row groups on both cores at once
            insert_spooled(con, dataset, spooled, delivery, load_id)
            if dataset.detect_duplicates:
                quarantine_duplicate_lines(con, delivery, dataset, bill_cycle, load_id, outcome, limits.max_bytes,
                                           hashes)
        except ArchiveRejected as exc:
            # nothing of a broken archive is loaded: a month is whole or absent
            con.execute(f"delete from {dataset.table} where load_id = ?", [load_id])
            audit.forget_loads(con, "load_id = ?", [load_id])
            message = with_action(exc.rule_id, str(exc))
            outcome.members = [MemberOutcome(None, 0, 0, 0, 0, "rejected", message)]
            outcome.rejected, outcome.rejected_rule = message, exc.rule_id
            record_rejection(con, delivery, dataset.source, bill_cycle, load_id, None, exc.rule_id, message)
    if account is not None and first is not None and outcome.rejected is None:
        _record_account_findings(con, delivery, dataset, bill_cycle, load_id, outcome, *first, account)
    for member in outcome.members:
        record_load(con, outcome, member, load_id, delivery.etag, delivery.sha256)
    return outcome


def _header_of(member: Member, dataset: Dataset) -> tuple[str, list[str]] | None:
    """The member's name and header row; None when it cannot be read (the member is rejected for it)."""
    try:
        return member.name, header_row(member.data)
    except NotUtf8:
        try:  # a GBK export, converted as staging converts it
            return member.name, header_row(utf8_bytes(member.data, dataset.spec)[0])
        except MemberRejected:
            return None


def _record_account_findings(con: duckdb.DuckDBPyConnection, delivery: Delivery, dataset: Dataset, bill_cycle: str,
                             load_id: str, outcome: StageOutcome, member: str, header: list[str],
                             account: Partner) -> None:
    """The delivery's findings against its account, on the header line of its first member."""
    findings = account_findings(header_facts(header, dataset.spec.headers), account)
    if not findings:
        return
    audit.insert_rows(con, "audit.findings", [
        {"load_id": load_id, "source": dataset.source, "object_key": delivery.object_key, "member": member,
         "bill_cycle": bill_cycle, "line_number": 1, "rule_id": finding.rule_id,
         "severity": rule(finding.rule_id).severity, "message": finding.message} for finding in findings])
    counted = next(row for row in outcome.members if row.member == member)  # its audit.loads row
    counted.findings_count += len(findings)
    counted.first_error = counted.first_error or findings[0].message
    counted.status = "warning" if counted.status == "ok" else counted.status


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
