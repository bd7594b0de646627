"""Staging of API snapshots: records → typed rows validated by the pandera models of schemas/api_*.py,
bad records in audit.quarantine with their rule id, identities in audit.findings, and one
audit.loads row per staged snapshot (source 'api:<dataset>'; rows read = loaded + quarantined).

What a new snapshot replaces (the caller holds the transaction, so it is all or nothing):
- slowly changing datasets (`history`): the rows of its snapshot date; other dates stay, so
  customers, budgets, coupons and credit keep one copy per day;
- cycle-bound datasets: the rows of its bill cycle;
- the others: the whole table.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandera.errors
import polars as pl

from pipelines.lib import audit
from pipelines.lib.bss.datasets import ApiDataset
from pipelines.lib.bss.records import STAGING, DatasetStaging, FieldProblem, StagedTable, model_dtypes, type_value
from pipelines.lib.bss.snapshots import Snapshot, read_snapshot, snapshot_paths_of_date
from pipelines.lib.partners import Partner
from pipelines.lib.rejections import failure_case_rule, reason, rule_for, value_subject
from pipelines.lib.staging.outcome import MemberOutcome, StageOutcome, record_load
from schemas.rules import rule

_LINEAGE_SCHEMA = {"src_snapshot": pl.Utf8, "src_sha256": pl.Utf8, "src_record": pl.Int64, "load_id": pl.Utf8}


@dataclass
class _Rejected:
    record_number: int
    rule_id: str
    reason: str


def stage_snapshot(con: duckdb.DuckDBPyConnection, landing_dir: Path, dataset: ApiDataset, snapshot: Snapshot,
                   load_id: str, account: Partner | None = None) -> StageOutcome:
    """Replace what `snapshot` supersedes with its records (inside the caller's transaction). With
    `account`, records in another currency than the account's are one API.CURRENCY finding."""
    spec = STAGING[dataset.name]
    document = read_snapshot(landing_dir, snapshot)
    records: list[Any] = document["records"]
    context = _context_columns(dataset, snapshot)
    _clear(con, dataset, spec, snapshot)

    rejected: dict[int, _Rejected] = {}
    rows_by_table: dict[str, list[dict]] = {t.table: [] for t in spec.tables}
    seen_keys: dict[tuple, int] = {}
    for number, record in enumerate(records, start=1):
        outcome = _rows_of(record, number, spec, context, seen_keys)
        if isinstance(outcome, _Rejected):
            rejected[number] = outcome
            continue
        for table, rows in outcome.items():
            rows_by_table[table].extend(rows)

    frames = {}
    for table in spec.tables:
        frame = _frame(rows_by_table[table.table], table)
        for failure in _model_failures(frame, table):
            rejected.setdefault(failure.record_number, failure)
        frames[table.table] = frame
    lineage = {"src_snapshot": snapshot.path, "src_sha256": snapshot.sha256, "load_id": load_id}
    bad = sorted(rejected)
    loaded = {name: frame.filter(~pl.col("src_record").is_in(bad)) for name, frame in frames.items()}
    for table in spec.tables:
        _insert(con, table.table, loaded[table.table], lineage)

    findings = spec.findings(loaded[spec.main.table]) if spec.findings else []
    source, cycle = dataset.source, snapshot.bill_cycle
    position = {"load_id": load_id, "source": source, "object_key": snapshot.path, "member": None,
                "bill_cycle": cycle, "line_number": None}
    audit.insert_rows(con, "audit.quarantine", [
        {**position, "record_number": number, "rule_id": rejected[number].rule_id,
         "reason": rejected[number].reason,
         "raw_record": json.dumps(records[number - 1], ensure_ascii=False, default=str)}
        for number in bad])
    finding_rows = []
    for finding in findings:
        info = rule(finding.rule_id)
        finding_rows.append({
            **position, "record_number": finding.record_number, "rule_id": info.rule_id, "severity": info.severity,
            "customer_id": finding.customer_id, "reference": finding.reference, "expected": finding.expected,
            "actual": finding.actual, "difference_amount": finding.difference,
            "message": f"{info.title}; {info.action}"})
    if account is not None and (currency := _currency_finding(loaded[spec.main.table], account)):
        finding_rows.append({**position, **currency})
    audit.insert_rows(con, "audit.findings", finding_rows)
    status = "quarantined_rows" if bad else "warning" if finding_rows else "ok"
    first_error = None
    if bad:
        first_error = f"record {bad[0]}: {rejected[bad[0]].reason}"
    elif finding_rows:
        first_error = f"record {finding_rows[0]['record_number']}: {rule(finding_rows[0]['rule_id']).title}"
    member = MemberOutcome(None, len(records), len(records) - len(bad), len(bad), len(finding_rows), status,
                           first_error)
    outcome = StageOutcome(source, snapshot.path, cycle, members=[member])
    record_load(con, outcome, member, load_id, snapshot.sha256, snapshot.sha256)
    return outcome


def _currency_finding(rows: pl.DataFrame, account: Partner) -> dict[str, Any] | None:
    """The API.CURRENCY finding of a snapshot's records whose currency is not the account's, on the first."""
    if "currency" not in rows.columns:
        return None
    other = rows.filter(pl.col("currency").is_not_null() & (pl.col("currency") != account.currency))
    if not other.height:
        return None
    info = rule("API.CURRENCY")
    found = ", ".join(sorted(set(other["currency"])))
    return {"record_number": other["src_record"][0], "rule_id": info.rule_id, "severity": info.severity,
            "customer_id": None, "reference": None, "expected": None, "actual": None, "difference_amount": None,
            "message": f"{other.height} of {rows.height} record(s) are in {found}, but account {account.id} is billed "
                       f"in {account.currency}: {info.action}"}


def _context_columns(dataset: ApiDataset, snapshot: Snapshot) -> dict[str, Any]:
    context: dict[str, Any] = {"fetched_at": snapshot.fetched_at.astimezone(dt.UTC)}
    if dataset.history:
        context["snapshot_date"] = snapshot.snapshot_date
    if dataset.bound_to == "cycle":
        context["bill_cycle"] = snapshot.bill_cycle
    return context


def _clear(con, dataset: ApiDataset, spec: DatasetStaging, snapshot: Snapshot) -> None:
    """Remove what the snapshot replaces, in the staging tables and in the audit tables."""
    source = dataset.source
    if dataset.history:
        for table in spec.tables:
            con.execute(f"delete from {table.table} where snapshot_date = ?", [snapshot.snapshot_date])
        paths = snapshot_paths_of_date(con, dataset, snapshot.snapshot_date)
        where, params = "source = ? and list_contains(?, object_key)", [source, paths]
    elif dataset.bound_to == "cycle":
        for table in spec.tables:
            con.execute(f"delete from {table.table} where bill_cycle = ?", [snapshot.bill_cycle])
        where, params = "source = ? and bill_cycle = ?", [source, snapshot.bill_cycle]
    else:
        for table in spec.tables:
            con.execute(f"delete from {table.table}")
        where, params = "source = ?", [source]
    audit.forget_loads(con, where, params)


def _rows_of(record: Any, number: int, spec: DatasetStaging, context: dict[str, Any],
             seen_keys: dict[tuple, int]) -> dict[str, list[dict]] | _Rejected:
    """The typed rows of one record per table, or why the record is rejected."""
    if not isinstance(record, dict):
        rule_id = rule_for("api", "not_an_object")
        return _Rejected(number, rule_id, reason(rule_id))
    out: dict[str, list[dict]] = {}
    try:
        for table in spec.tables:
            dtypes = model_dtypes(table.model)
            rows = []
            for raw in table.rows(record):
                row = {}
                for column, value in raw.items():
                    if column in context and value is not None and str(value) != str(context[column]):
                        rule_id = rule_for("api", "cycle_mismatch")
                        asked = f"{value_subject(column, value)} (asked for '{context[column]}')"
                        return _Rejected(number, rule_id, reason(rule_id, asked))
                    row[column] = type_value(value, dtypes[column], column)
                row.update(context)
                row["src_record"] = number
                rows.append(row)
            out[table.table] = rows
    except FieldProblem as problem:
        return _Rejected(number, problem.rule_id, reason(problem.rule_id, value_subject(problem.column,
                                                                                        problem.value)))
    if spec.main.key:
        for row in out[spec.main.table]:
            key = tuple(row.get(k) for k in spec.main.key)
            if all(part is not None for part in key):
                first = seen_keys.setdefault(key, number)
                if first != number:
                    rule_id = rule_for("api", "duplicate_record")
                    same = f"the same {'/'.join(spec.main.key)} as record {first}"
                    return _Rejected(number, rule_id, reason(rule_id, same))
    return out


def _frame(rows: list[dict], table: StagedTable) -> pl.DataFrame:
    schema = {**model_dtypes(table.model), "src_record": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _model_failures(frame: pl.DataFrame, table: StagedTable) -> list[_Rejected]:
    """Rows that break the table's pandera model, by record (the first failure of each record)."""
    if not frame.height:
        return []
    try:
        table.model.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    if cases.filter(pl.col("index").is_null()).height:
        # a schema-level failure (a wrong dtype) is a bug in records.py, not bad data
        raise RuntimeError(f"{table.model.__name__} schema failure: {cases.filter(pl.col('index').is_null())}")
    records = frame["src_record"].to_list()
    failures: dict[int, _Rejected] = {}
    for case in cases.sort("index").iter_rows(named=True):
        number = records[int(case["index"])]
        if number in failures:
            continue
        failures[number] = _Rejected(number, *failure_case_rule("api", case))
    return list(failures.values())


def _insert(con, table: str, frame: pl.DataFrame, lineage: dict[str, Any]) -> None:
    if not frame.height:
        return
    frame = frame.with_columns(pl.lit(v, _LINEAGE_SCHEMA[k]).alias(k) for k, v in lineage.items())
    con.register("incoming_api_rows", frame.to_arrow())
    try:
        con.execute(f"insert into {table} by name select * from incoming_api_rows")
    finally:
        con.unregister("incoming_api_rows")
