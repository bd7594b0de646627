"""CSV text → typed, validated polars frames, one member at a time.

Three outcomes per row: loaded clean, loaded with findings (HUAWEI CLOUD's arithmetic is off), or
quarantined with a rule id and reason (it cannot be parsed or breaks a structural rule). A member
that cannot be read at all (missing required column, broken CSV) is rejected whole. In every case
rows_read = rows_loaded + rows_quarantined.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandera.errors
import pandera.polars as pa
import polars as pl

from pipelines.lib.csv_reading import (  # noqa: F401  (re-exported: callers catch MemberRejected here)
    QUARANTINE_SCHEMA,
    UTF8_BOM,
    MemberRejected,
    NotUtf8,
    check_header,
    header_row,
    read_raw_csv,
    records,
    utf8_bytes,
)
from pipelines.lib.model_pass import proven_valid
from pipelines.lib.rejections import failure_case_rule, reason, rule_for
from schemas.aliases import header_lookup, normalise_header
from schemas.bill_cycle import GMT8
from schemas.datasets import ColumnSpec, DatasetSpec
from schemas.money import MONEY, MONEY_SUM, QUANTITY, RATE

# HUAWEI CLOUD's billing clock is GMT+8 all year, and the files say so (`GMT+08:00`): a fixed
# offset, so times are shifted by it instead of being looked up in a zone's rules row by row.
LOCAL_OFFSET = pl.lit(GMT8.utcoffset(None))
# Earlier GMT+8 times are in year 0 in UTC, which Python's datetime (an analyst's fetch, pandera's
# messages) cannot hold: they are quarantined as unreadable times rather than loaded, and dates of
# year 0 as unreadable dates.
EARLIEST_LOCAL_TIME = datetime(1, 1, 1, 8)

# ASCII digits only: \d would also admit other scripts' digits, which no cast reads
_MONEY_RE = r"^[+-]?[0-9]{1,12}(\.[0-9]{1,8})?$"
_QUANTITY_RE = r"^[+-]?[0-9]{1,20}(\.[0-9]{1,8})?$"
_RATE_RE = r"^[+-]?[0-9](\.[0-9]{1,6})?$"
_INT_RE = r"^[+-]?[0-9]{1,4}$"
_TIME_RE = r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?: ?GMT\+0?8:00)?$"
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
_CYCLE_RE = r"^\d{4}-\d{2}$"

FINDING_SCHEMA = {
    "record_number": pl.Int64, "rule_id": pl.Utf8, "severity": pl.Utf8, "bill_cycle": pl.Utf8,
    "customer_id": pl.Utf8, "reference": pl.Utf8, "expected": MONEY_SUM, "actual": MONEY_SUM,
    "difference_amount": MONEY_SUM, "message": pl.Utf8,
}


@dataclass
class ParsedMember:
    """The outcome of one CSV member; `loaded` carries record_number for lineage."""

    loaded: pl.DataFrame
    quarantined: pl.DataFrame
    findings: pl.DataFrame
    rows_read: int
    warnings: list[str] = field(default_factory=list)
    spooled_rows: int | None = None  # set once `loaded` was written to a spool file and dropped

    @property
    def rows_loaded(self) -> int:
        return self.loaded.height if self.spooled_rows is None else self.spooled_rows

    @property
    def first_error(self) -> str | None:
        if self.quarantined.height:
            row = self.quarantined.row(0, named=True)
            return f"record {row['record_number']}: {row['reason']}"
        if self.findings.height:
            row = self.findings.row(0, named=True)
            return f"record {row['record_number']}: {row['message']}"
        return self.warnings[0] if self.warnings else None


def map_headers(raw: pl.DataFrame, spec: DatasetSpec) -> tuple[pl.DataFrame, list[str]]:
    """Rename known headers to canonical names; unknown ones are kept in a JSON `extra` column."""
    lookup = header_lookup(spec.headers)
    renames: dict[str, str] = {}
    unknown: list[str] = []
    for header in raw.columns:
        if header == "record_number":
            continue
        canonical = lookup.get(normalise_header(header))
        if canonical is None or canonical in renames.values():
            unknown.append(header)
        else:
            renames[header] = canonical
    missing = [c for c in spec.required_columns if c not in renames.values()]
    if missing:
        raise MemberRejected(
            rule_for("file", "missing_column"),
            f"required column(s) missing: {', '.join(missing)}; the header has "
            f"{', '.join(c for c in raw.columns if c != 'record_number')}",
            rows_read=raw.height,
        )
    frame = raw.rename(renames)
    absent = [c for c in spec.column_names if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, pl.Utf8).alias(c) for c in absent)
    if unknown:
        frame = frame.with_columns(pl.struct(unknown).struct.json_encode().alias("extra")).drop(unknown)
    else:
        frame = frame.with_columns(pl.lit(None, pl.Utf8).alias("extra"))
    return frame, unknown


def _parse_expr(spec: ColumnSpec) -> tuple[pl.Expr, pl.Expr | None, str | None]:
    """(typed value of a text that passed, condition that the text failed to parse, rule id) for one
    column. The value is only computed on rows whose every column passed, so it need not re-check."""
    text = pl.col(spec.name)
    if spec.kind in ("money", "quantity", "rate"):
        pattern, dtype = {
            "money": (_MONEY_RE, MONEY), "quantity": (_QUANTITY_RE, QUANTITY), "rate": (_RATE_RE, RATE),
        }[spec.kind]
        return (text.cast(dtype, strict=False), text.is_not_null() & ~text.str.contains(pattern),
                rule_for("file", spec.kind))
    if spec.kind == "int":
        return (text.cast(pl.Int16, strict=False), text.is_not_null() & ~text.str.contains(_INT_RE),
                rule_for("file", spec.kind))
    if spec.kind == "timestamp":
        local = pl.col(_local_time_column(spec.name))  # parsed once by type_columns
        value = (local - LOCAL_OFFSET).dt.replace_time_zone("UTC")
        return value, text.is_not_null() & local.is_null(), rule_for("file", spec.kind)
    if spec.kind == "date":
        parsed = pl.when(text.str.contains(_DATE_RE)).then(text).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        value = pl.when(parsed >= EARLIEST_LOCAL_TIME.date()).then(parsed)
        return value, text.is_not_null() & value.is_null(), rule_for("file", spec.kind)
    if spec.kind == "cycle":
        ok = text.str.contains(_CYCLE_RE)
        return text, text.is_not_null() & ~ok, rule_for("file", spec.kind)
    if spec.kind == "enum":
        mapping = dict(spec.values or {})
        return text.replace(mapping), None, None
    return text, None, None


def _local_time_column(name: str) -> str:
    return f"_local_{name}"


def type_columns(frame: pl.DataFrame, spec: DatasetSpec, may_hold_nul: bool = True
                 ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse text columns to their types. Returns (typed rows, quarantined rows).

    Every check runs once over all rows as a flag; the reasons (formatted text) are built only for
    the rows that failed, and the casts only for the rows that passed."""
    values, checks = [], []
    text_columns = [c for c in frame.columns if frame.schema[c] == pl.Utf8]
    # GMT+8 times are parsed once, for their check, their UTC value and the local date
    times = [c.name for c in spec.columns if c.kind == "timestamp"]
    local_times = [_local_time_column(name) for name in times]
    frame = frame.with_columns(
        pl.col(name).str.extract(_TIME_RE, 1).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
        .alias(local) for name, local in zip(times, local_times))
    frame = frame.with_columns(pl.when(pl.col(local) >= EARLIEST_LOCAL_TIME).then(pl.col(local)).alias(local)
                               for local in local_times)
    if text_columns and may_hold_nul:
        # a NUL byte is never part of real bill text: the row is damaged (searched per column only
        # when the member's bytes hold one at all)
        has_nul = pl.any_horizontal([pl.col(c).str.contains("\x00", literal=True) for c in text_columns])
        checks.append((has_nul, rule_for("file", "nul_byte"), pl.lit("the record contains a NUL byte (damaged data)")))
    for column in spec.columns:
        value, failed, rule_id = _parse_expr(column)
        values.append(value.alias(column.name))
        if failed is not None:
            # the wording of rejections.reason(rule_id, value_subject(...)), built for all rows at once
            message = pl.format(reason(rule_id, "{}: '{}'"), pl.lit(column.name), pl.col(column.name))
            checks.append((failed, rule_id, message))
    if checks:
        flagged = frame.with_columns(
            pl.any_horizontal([failed.fill_null(False) for failed, _, _ in checks]).alias("_failed"))
        bad = flagged.filter(pl.col("_failed")).drop("_failed")
        good = flagged.filter(~pl.col("_failed")).drop("_failed")
    else:
        bad, good = frame.clear(), frame
    # the first failing check of a row names its rule, in column order
    problem = pl.coalesce([pl.when(failed.fill_null(False)).then(pl.struct(rule_id=pl.lit(rule_id), reason=message))
                           for failed, rule_id, message in checks]) if checks else \
        pl.lit(None, dtype=pl.Struct({"rule_id": pl.Utf8, "reason": pl.Utf8}))  # text columns only: no parse checks
    bad = bad.with_columns(problem.alias("_problem"))
    quarantined = _quarantine_rows(bad, spec, pl.col("_problem").struct.field("rule_id"),
                                   pl.col("_problem").struct.field("reason"))
    typed = good.with_columns(values)
    if spec.local_time_column:
        local_time = pl.col(_local_time_column(spec.local_time_column))
        typed = typed.with_columns(local_time.dt.date().alias("trade_date_local"))
    return typed.drop(local_times), quarantined


def _quarantine_rows(bad: pl.DataFrame, spec: DatasetSpec, rule_id: pl.Expr, reason: pl.Expr) -> pl.DataFrame:
    raw_columns = [c for c in spec.column_names if c in bad.columns] + ["extra"]
    return bad.select(
        pl.col("record_number").cast(pl.Int64),
        rule_id.cast(pl.Utf8).alias("rule_id"),
        reason.cast(pl.Utf8).alias("reason"),
        pl.struct([pl.col(c).cast(pl.Utf8) for c in raw_columns]).struct.json_encode().alias("raw_record"),
    )


def structural_failures(typed: pl.DataFrame, model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """Rows that fail the model: (row index, rule id, reason). Only the first failure per row."""
    none = pl.DataFrame(schema={"index": pl.Int64, "rule_id": pl.Utf8, "reason": pl.Utf8})
    if proven_valid(model, typed):  # one query instead of pandera's fifty (pipelines/lib/model_pass.py)
        return none
    try:
        model.validate(typed, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return none
    if cases.filter(pl.col("index").is_null()).height:
        # a schema-level failure (wrong dtype) is a bug in the parser, not in the data
        raise RuntimeError(f"{model.__name__} schema failure: {cases.filter(pl.col('index').is_null())}")
    rows = [(int(case["index"]), *failure_case_rule("file", case)) for case in cases.iter_rows(named=True)]
    out = pl.DataFrame(rows, schema={"index": pl.Int64, "rule_id": pl.Utf8, "reason": pl.Utf8}, orient="row")
    return out.sort("index").unique("index", keep="first", maintain_order=True)


def failing_rows(frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> dict[str, list[int]]:
    """Row indexes per dataframe-level check of `model` that fails (all of them, not the first)."""
    if proven_valid(model, frame):
        return {}
    try:
        model.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        out: dict[str, list[int]] = {}
        for case in exc.failure_cases.iter_rows(named=True):
            out.setdefault(case["check"], []).append(int(case["index"]))
        return out
    return {}


def split_structural(typed: pl.DataFrame, spec: DatasetSpec, model: type[pa.DataFrameModel]
                     ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply the structural model; failing rows go to quarantine with their rule."""
    failures = structural_failures(typed, model)
    if not failures.height:
        return typed, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    indexed = typed.with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
    bad = indexed.join(failures, on="index", how="inner")
    # quarantine keeps the text as delivered
    bad_text = bad.with_columns(pl.col(c).cast(pl.Utf8) for c in spec.column_names if c in bad.columns)
    quarantined = _quarantine_rows(bad_text, spec, pl.col("rule_id"), pl.col("reason"))
    good = indexed.join(failures.select("index"), on="index", how="anti").drop("index")
    return good, quarantined


def physical_line_numbers(text: str, record_numbers: Iterable[int]) -> dict[int, int]:
    """Map record numbers (1 = first data row) to the line where each record starts.

    Only run for members with rejected rows: quoted fields may span lines (and blank lines are no
    records), so the record number alone would point a reader at the wrong line of the file.
    """
    wanted = set(record_numbers)
    found: dict[int, int] = {}
    if not wanted:
        return found
    for number, first_line, _, _ in records(text):
        if number in wanted:
            found[number] = first_line
            if len(found) == len(wanted):
                break
    return found


def _read_member(text: bytes, spec: DatasetSpec, strict_utf8: bool):
    """(raw rows, broken records, header); the header is checked before any row is read."""
    header = header_row(text)
    if not header:
        return None, None, header
    check_header(header, spec)
    raw, broken = read_raw_csv(text, header, strict_utf8=strict_utf8)
    return raw, broken, header


def count_line_ends(data: bytes) -> int:
    """Line ends in `data`: LF bytes, counted by polars on a view of the bytes (`bytes.count` holds
    the GIL, and the inflating thread and the other parser wait, and is several times slower).
    Lines may also end with CR alone, which both CSV readers honour; CR bytes are counted too
    when the LFs would make lines of 4 KiB on average, as in a member of CR line ends only."""
    view = pl.Series(np.frombuffer(data, dtype=np.uint8))
    line_feeds = int(view.eq(ord("\n")).sum())
    if line_feeds * 4096 >= len(data):
        return line_feeds
    return max(line_feeds, int(view.eq(ord("\r")).sum()))


# A row-limit refusal's cause names the limit it broke, read back from audit.quarantine to stage the
# delivery again once BILLRECON_MAX_MEMBER_ROWS is raised (staging.audit_rows.limits_now_admit_a_refusal).
REFUSED_ROWS_PATTERN = r"^member has more than (\d+) lines"


def parse_member(
    data: bytes,
    spec: DatasetSpec,
    structural_model: type[pa.DataFrameModel],
    source_bill_cycle: str | None,
    max_rows: int | None = None,
) -> tuple[ParsedMember, str]:
    """Parse one CSV member into loaded/quarantined rows. Returns the result and the member as UTF-8
    bytes (decode them for line numbers, only when a row was rejected)."""
    if max_rows is not None and count_line_ends(data) > max_rows + 1:
        # counted before parsing: a member of a billion short rows never reaches memory as a frame
        raise MemberRejected(rule_for("file", "member_too_many_rows"),
                             f"member has more than {max_rows} lines, the limit per member")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    try:
        # Read as UTF-8 straight away: the CSV reader validates the encoding as it goes, which
        # costs far less than decoding the member in Python first.
        text, warnings = data, []
        raw, broken, header = _read_member(text, spec, strict_utf8=True)
    except NotUtf8:
        text, warnings = utf8_bytes(data, spec)  # a GBK export is converted; anything else rejected
        raw, broken, header = _read_member(text, spec, strict_utf8=False)
    if not header:
        return ParsedMember(pl.DataFrame(), pl.DataFrame(schema=QUARANTINE_SCHEMA),
                            pl.DataFrame(schema=FINDING_SCHEMA), 0, ["member is empty"]), text
    try:
        mapped, unknown = map_headers(raw, spec)
    except MemberRejected as exc:
        exc.rows_read = raw.height + broken.height
        raise
    typed, parse_quarantine = type_columns(mapped, spec, may_hold_nul=b"\x00" in text)
    typed = typed.with_columns(pl.lit(source_bill_cycle, pl.Utf8).alias("source_bill_cycle"))
    good, structural_quarantine = split_structural(typed, spec, structural_model)
    quarantined = pl.concat([broken, parse_quarantine, structural_quarantine]).sort("record_number")
    if unknown:
        warnings.append(f"unknown column(s) kept in `extra`: {', '.join(unknown)}")
    rows_read = raw.height + broken.height
    result = ParsedMember(good, quarantined, pl.DataFrame(schema=FINDING_SCHEMA), rows_read, warnings)
    assert result.rows_read == good.height + quarantined.height, "rows read must equal loaded + quarantined"
    return result, text
