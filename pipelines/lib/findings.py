"""Findings on loaded bill lines: HUAWEI CLOUD's arithmetic checked by the pandera identity model."""

from __future__ import annotations

import polars as pl

from pipelines.lib.parsing import FINDING_SCHEMA, failing_rows
from schemas import bill_line
from schemas.money import MONEY, MONEY_SUM
from schemas.rules import rule

# rule id -> (expected, actual) expressions describing the failed identity
_MEASURES: dict[str, tuple[pl.Expr, pl.Expr]] = {
    "BILL.AMOUNT_DUE_IDENTITY": (bill_line.amount_due_expected(), pl.col("amount_due")),
    "BILL.PAYMENT_IDENTITY": (bill_line.payment_total(), pl.col("amount_due")),
    "BILL.REFUND_SIGN": (pl.lit(0, MONEY), bill_line.max_amount()),
    "BILL.REFUND_WITHOUT_ORDER": (pl.lit(None, MONEY), pl.lit(None, MONEY)),
    "BILL.EXPENDITURE_SIGN": (pl.lit(0, MONEY), bill_line.min_amount()),
    "BILL.TRADE_TIME_OUTSIDE_CYCLE": (pl.lit(None, MONEY), pl.lit(None, MONEY)),
}


def bill_line_findings(lines: pl.DataFrame) -> pl.DataFrame:
    """One finding per (line, failed identity); lines stay loaded as delivered."""
    if not lines.height:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    failed = failing_rows(lines, bill_line.BillLineIdentities)
    frames = []
    for rule_id, indexes in sorted(failed.items()):
        expected, actual = _MEASURES[rule_id]
        info = rule(rule_id)
        rows = lines[sorted(set(indexes))]
        frames.append(rows.select(
            pl.col("record_number").cast(pl.Int64),
            pl.lit(rule_id).alias("rule_id"),
            pl.lit(info.severity).alias("severity"),
            pl.col("bill_cycle"),
            pl.col("customer_id"),
            pl.col("trade_id").alias("reference"),
            expected.cast(MONEY_SUM).alias("expected"),
            actual.cast(MONEY_SUM).alias("actual"),
            (actual - expected).cast(MONEY_SUM).alias("difference_amount"),
            pl.lit(f"{info.title}; {info.action}").alias("message"),
        ))
    if not frames:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    return pl.concat(frames).sort(["record_number", "rule_id"])
