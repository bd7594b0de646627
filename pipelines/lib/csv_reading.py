"""Reading one CSV member's text into string columns, numbered by record.

Everything that makes a member unreadable as a whole is named here precisely (encoding, delimiter,
duplicated header); a record the fast reader cannot take is read again record by record so that only
the broken record is quarantined.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.lib.rejections import rule_for
from schemas.aliases import header_lookup, normalise_header
from schemas.datasets import DatasetSpec

QUARANTINE_SCHEMA = {
    "record_number": pl.Int64, "rule_id": pl.Utf8, "reason": pl.Utf8, "raw_record": pl.Utf8,
}


# Python's csv module refuses fields over 128 KiB by default; a field is bounded by the member-size
# limit instead (the whole member is in memory already), so a long field is read, not a crash.
csv.field_size_limit(sys.maxsize)


class MemberRejected(Exception):
    """The member cannot be read as a whole; the message says what is wrong. What to do is the
    rule's action (schemas/rules.py), which staging adds once (`rejections.with_action`)."""

    def __init__(self, rule_id: str, message: str, rows_read: int = 0):
        super().__init__(message)
        self.rule_id = rule_id
        self.rows_read = rows_read


UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class NotUtf8(Exception):
    """Raised by the strict readers when the bytes are not UTF-8: decode with `utf8_bytes`, retry."""


def utf8_bytes(data: bytes, spec: DatasetSpec) -> tuple[bytes, list[str]]:
    """The member as UTF-8 bytes without a BOM (what the CSV reader takes), and any warning.

    UTF-8 with or without a BOM passes through unchanged. A GBK file (what Chinese-locale tools
    export) is converted when it is recognisably one: its header row decodes to known Chinese header
    names. Anything else is rejected."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    if data.isascii():  # plain ASCII is UTF-8; far cheaper to check than decoding
        return data, []
    try:
        data.decode("utf-8")  # validation only: the text itself is not kept
        return data, []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        lookup = header_lookup(spec.headers)
        header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
        chinese_known = [h for h in header if not h.isascii() and normalise_header(h) in lookup]
        if len(chinese_known) >= 3:
            return text.encode("utf-8"), ["member is GBK-encoded, not UTF-8; decoded as GB18030"]
    if data.startswith(UTF16_BOMS):
        raise MemberRejected(rule_for("file", "encoding"), "the member is UTF-16 text (it starts with a UTF-16 "
                                                            "byte-order mark), not UTF-8")
    raise MemberRejected(
        rule_for("file", "encoding"),
        f"not UTF-8 text (byte {utf8_error.start}: {utf8_error.reason}) and not recognisably GBK",
    )


def header_row(data: bytes) -> list[str]:
    """The header fields, read from the start of the member only (NotUtf8 if they are not UTF-8).
    Blank lines before it are skipped, as blank lines are everywhere (see `records`)."""
    start = 0
    while data[start:start + 1] in (b"\n", b"\r"):
        start += 1
    end = data.find(b"\n", start)
    first_line = data[start:] if end < 0 else data[start:end]  # a slice: partition would copy the member
    if first_line.count(b'"') % 2:  # a quoted header field spans lines: read a larger prefix
        first_line = data[start:start + (1 << 20)]
    try:
        decoded = first_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8() from exc
    return next(csv.reader(io.StringIO(decoded, newline="")), [])


def check_header(header: list[str], spec: DatasetSpec) -> None:
    """Problems that make the whole member unreadable, named precisely."""
    if any("\n" in name or "\r" in name for name in header):
        # no header name holds a line break: a quote opened in the header row and never closed
        # swallowed the records after it, which would otherwise surface as missing or repeated columns
        raise MemberRejected(
            rule_for("file", "malformed_csv"),
            "the header row never ends: a quote in it is not closed, so the records after it run into its fields",
        )
    if any("\x00" in name for name in header):
        raise MemberRejected(
            rule_for("file", "encoding"),
            "the header holds NUL bytes, as UTF-16 text does (or the file is damaged)",
        )
    if len(header) == 1 and header[0].count(";") >= 2:
        raise MemberRejected(
            rule_for("file", "wrong_delimiter"),
            "the header is separated by semicolons; billrecon reads comma-separated files",
        )
    lookup = header_lookup(spec.headers)
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        key = lookup.get(normalise_header(name), normalise_header(name))
        if key in seen:
            raise MemberRejected(
                rule_for("file", "duplicate_header"),
                f"column '{name}' appears twice in the header (positions {seen[key]} and {position}); "
                "it is ambiguous which one holds the data",
            )
        seen[key] = position


def read_raw_csv(data: bytes, header: list[str], strict_utf8: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every field as text, numbered by record; empty strings become null (docs/formats.md#rules-common-to-every-csv).

    The fast path is Arrow's CSV reader, which reports every record whose field count differs from
    the header's, in either direction (polars pads a short record with nulls, loading its values
    under the wrong columns). If a record has too many or too few fields, or a quote is never
    closed, the member is read again with Python's csv module so that only the broken records are
    quarantined and the rest still loads."""
    if not data or data.isspace():  # strip() would copy the whole member to learn the same
        return pl.DataFrame(), pl.DataFrame(schema=QUARANTINE_SCHEMA)
    try:
        frame = _read_fast(data, header)
        broken = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    except pa.ArrowInvalid as exc:
        if strict_utf8 and "invalid utf8" in str(exc).lower():
            raise NotUtf8() from exc
        frame, broken = _read_record_by_record(_text(data), header)
    frame = frame.with_row_index("record_number", offset=1) if "record_number" not in frame.columns else frame
    frame = frame.with_columns(pl.col("record_number").cast(pl.Int64))
    text_columns = [c for c in frame.columns if c != "record_number"]
    # strip once, then blank → null (stripping twice in one expression cost twice the time)
    stripped = frame.with_columns(pl.col(c).str.strip_chars() for c in text_columns)
    return stripped.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in text_columns), broken


def _read_fast(data: bytes, header: list[str]) -> pl.DataFrame:
    """The member's records as string columns named by `header`, read by Arrow with the GIL
    released. The header row is read as the first record, under positional names, so
    that it is split exactly as the records are and no column's type is ever inferred."""
    positional = [f"f{i}" for i in range(len(header))]
    table = pacsv.read_csv(
        pa.py_buffer(data),
        # one thread: staging parses two members at once on the two cores, and Arrow's own
        # threads cost more CPU than they save there
        read_options=pacsv.ReadOptions(column_names=positional, use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True,
                                         invalid_row_handler=_stop_at_a_ragged_record),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(positional, pa.string()),
                                             strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    return pl.from_arrow(table.slice(1).rename_columns(header))


def _stop_at_a_ragged_record(row) -> str:
    """A record's field count differs from the header's: stop (ArrowInvalid); only a record-by-record
    read tells which records are broken and where each starts."""
    return "error"


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8() from exc


def records(text: str) -> Iterator[tuple[int, int, int, list[str]]]:
    """(record number, first line, last line, fields) of each data record of a member, by Python's
    csv module: the record-by-record read and the line numbers of rejected records. A blank line is
    no record (nor is it one to Arrow's reader): it holds no value to load or to lose, and counting
    it would quarantine a row for every stray newline of an edited file. The first record is the
    header and is not yielded."""
    reader = csv.reader(io.StringIO(text, newline=""))
    number, start, header_seen = 0, 1, False
    for fields in reader:
        first, start = start, reader.line_num + 1
        if not fields:
            continue
        if header_seen:
            number += 1
            yield number, first, reader.line_num, fields
        header_seen = True


def _read_record_by_record(text: str, header: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    good: list[list[str]] = []
    numbers: list[int] = []
    broken = []
    for number, first_line, last_line, fields in records(text):
        if len(fields) == len(header):
            good.append(fields)
            numbers.append(number)
            continue
        swallowed = "\n" in "".join(fields) and last_line > first_line
        reason = (f"record has {len(fields)} fields, the header has {len(header)}"
                  + ("; an unterminated quote makes the rest of the member one field" if swallowed else ""))
        broken.append((number, rule_for("file", "field_count"), reason, json.dumps(fields, ensure_ascii=False)[:2000]))
    frame = pl.DataFrame({"record_number": numbers, **{
        name: [row[i] for row in good] for i, name in enumerate(header)
    }}, schema={"record_number": pl.Int64, **{name: pl.Utf8 for name in header}})
    return frame, pl.DataFrame(broken, schema=QUARANTINE_SCHEMA, orient="row")
