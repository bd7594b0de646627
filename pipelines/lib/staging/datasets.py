"""What is staged and within which limits: each source dataset's spec, pandera model and target
table, and the per-member limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandera.polars as pa
import polars as pl

from pipelines.lib.findings import bill_line_findings
from schemas.bill_line import BillLineModel
from schemas.datasets import BILL_LINE, DatasetSpec


@dataclass(frozen=True)
class MemberLimits:
    """Per-member limits: beyond `max_bytes` or `max_rows` a member is refused unread (a decompression
    bomb stops there); beyond HUAWEI CLOUD's documented 100,000 rows it loads with a warning."""

    max_bytes: int = 1 << 30
    max_rows: int = 5_000_000
    documented_rows: int = 100_000


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
