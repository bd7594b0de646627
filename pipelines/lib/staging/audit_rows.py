"""The audit rows of staging a file: each quarantined row and finding with its position (object,
member, physical line, record), each rejected member or object, and what a new delivery replaces."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.lib import audit
from pipelines.lib.archives import REFUSED_SIZE_PATTERN
from pipelines.lib.landing import Delivery
from pipelines.lib.parsing import REFUSED_ROWS_PATTERN
from pipelines.lib.rejections import rule_for
from pipelines.lib.staging.datasets import MemberLimits


def clear_audit(con: duckdb.DuckDBPyConnection, source: str, bill_cycle: str | None,
                object_key: str | None = None) -> None:
    """Forget the loads, quarantine and findings of the source's cycle (of the key without a cycle)."""
    if bill_cycle is not None:
        audit.forget_loads(con, "source = ? and bill_cycle = ?", [source, bill_cycle])
    else:
        audit.forget_loads(con, "source = ? and object_key = ?", [source, object_key])


def insert_member_rows(con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame, lines: dict[int, int],
                       delivery: Delivery, source: str, bill_cycle: str | None, load_id: str, member: str) -> None:
    """A member's quarantined rows or findings (`table`), each given the physical line its record starts on."""
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
    audit.insert_frame(con, table, frame)


def limits_now_admit_a_refusal(con: duckdb.DuckDBPyConnection, source: str, object_key: str, etag: str,
                                bill_cycle: str | None, limits: MemberLimits) -> bool:
    """Whether a member of this staged delivery was refused unread for a size or row limit that `limits`
    no longer sets (BILLRECON_MAX_MEMBER_BYTES above its size, BILLRECON_MAX_MEMBER_ROWS above the
    limit it broke): then the delivery is staged again, as the rule's action promises."""
    return con.execute(
        """select count(*) > 0 from audit.quarantine
           where load_id in (select load_id from audit.loads where source = ? and object_key = ? and etag = ?
                                and bill_cycle is not distinct from ?)
             and ((rule_id = ? and try_cast(regexp_extract(reason, ?, 1) as bigint) <= ?)
               or (rule_id = ? and try_cast(regexp_extract(reason, ?, 1) as bigint) < ?))""",
        [source, object_key, etag, bill_cycle,
         rule_for("file", "member_too_large"), REFUSED_SIZE_PATTERN, limits.max_bytes,
         rule_for("file", "member_too_many_rows"), REFUSED_ROWS_PATTERN, limits.max_rows]).fetchone()[0]


def record_rejection(con: duckdb.DuckDBPyConnection, delivery: Delivery, source: str, bill_cycle: str | None,
                     load_id: str, member: str | None, rule_id: str, message: str, rows: int = 0) -> None:
    """The quarantine row of a member (or, `member` None, the whole object) that was not loaded."""
    audit.insert_row(con, "audit.quarantine", {
        "load_id": load_id, "source": source, "object_key": delivery.object_key, "member": member,
        "bill_cycle": bill_cycle, "rule_id": rule_id,
        "reason": f"{message}" + (f" ({rows} rows not loaded)" if rows else "")})
