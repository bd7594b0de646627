"""Duplicate lines: a line delivered twice in one bill file is spend counted once. Every repeat
(in any member) moves from the staging table to audit.quarantine; the first stays loaded."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from pipelines.lib import audit
from pipelines.lib.archives import iter_csv_members
from pipelines.lib.csv_reading import utf8_bytes
from pipelines.lib.landing import Delivery
from pipelines.lib.parsing import physical_line_numbers
from pipelines.lib.rejections import rule_for
from pipelines.lib.staging.datasets import Dataset
from pipelines.lib.staging.outcome import StageOutcome
from schemas.rules import rule

# the seed of polars' row hash: fixed, so that every member's hashes compare with every other's
HASH_SEED = 0x62696C6C


def line_hashes(rows: pl.DataFrame, content: list[str]) -> pl.DataFrame:
    """Each row's record number and a hash of its content columns, computed while the member is in
    memory (on a parsing thread): hashing the staged month in DuckDB afterwards read every column of
    every line again (53 s of a ten-million-line month)."""
    return pl.DataFrame({"src_record": rows["src_record"],
                         "line_hash": rows.select(content).hash_rows(HASH_SEED)})


def quarantine_duplicate_lines(con: duckdb.DuckDBPyConnection, delivery: Delivery, dataset: Dataset,
                               bill_cycle: str, load_id: str, outcome: StageOutcome, max_member_bytes: int,
                               hashes: dict[str, pl.DataFrame]) -> None:
    """Move every repeat of an identical line (in any member) to quarantine; the first stays loaded.
    The members' outcomes count the moved lines as quarantined. `hashes` holds each staged member's
    line hashes (`line_hashes`): only lines whose hash occurs more than once are compared, in full."""
    info = rule(rule_for("file", "duplicate_line"))
    content = ", ".join(dataset.spec.column_names)
    candidates = _repeated_hashes(hashes)
    if not candidates.height:
        return
    con.register("duplicate_candidates", candidates.to_arrow())
    try:
        con.execute(
            f"""create or replace temp table duplicate_lines as
            with candidates as (
                select lines.*, hashed.line_hash
                from duplicate_candidates as hashed
                join {dataset.table} as lines using (src_member, src_record)
                where lines.load_id = ?
                  and lines.src_member in (select distinct src_member from duplicate_candidates)
            )
            select * from (
                select *, row_number() over same_line as occurrence,
                       first_value(src_member) over same_line as first_member,
                       first_value(src_record) over same_line as first_record
                from candidates
                window same_line as (partition by line_hash, {content} order by src_member, src_record)
            ) where occurrence > 1""",
            [load_id],
        )
    finally:
        con.unregister("duplicate_candidates")
    found = con.execute("select src_member, count(*) from duplicate_lines group by 1").fetchall()
    if not found:
        return
    audit.insert_select(
        con, "audit.quarantine",
        ("load_id", "source", "object_key", "member", "bill_cycle", "line_number", "record_number", "rule_id",
         "reason", "raw_record"),
        """select ?, ?, ?, src_member, ?, null, src_record, ?,
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
    for member in outcome.members:
        moved = by_member.get(member.member, 0)
        if moved:
            member.rows_loaded -= moved
            member.rows_quarantined += moved
            member.status = "quarantined_rows" if member.status != "rejected" else member.status
            member.first_error = member.first_error or f"{moved} duplicate line(s): {info.title}"
    con.execute("drop table duplicate_lines")


def _repeated_hashes(hashes: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """(src_member, src_record, line_hash) of every line whose hash occurs more than once. The month's
    hashes are sorted in one array and compared with their neighbours: a hash set of ten million
    lines took some 300 MB more at the staging's peak."""
    every = np.concatenate([np.empty(0, np.uint64), *(frame["line_hash"].to_numpy() for frame in hashes.values())])
    every.sort()
    repeated = np.unique(every[1:][every[1:] == every[:-1]])
    del every
    if not len(repeated):
        return pl.DataFrame(schema={"src_member": pl.Utf8, "src_record": pl.Int64, "line_hash": pl.UInt64})
    wanted = pl.Series(repeated).implode()
    return pl.concat([frame.filter(pl.col("line_hash").is_in(wanted))
                      .select(pl.lit(member, pl.Utf8).alias("src_member"),
                              pl.col("src_record").cast(pl.Int64), "line_hash")
                      for member, frame in hashes.items()])


def _locate_duplicate_lines(con: duckdb.DuckDBPyConnection, delivery: Delivery, dataset: Dataset, load_id: str,
                            rule_id: str, max_member_bytes: int) -> None:
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
