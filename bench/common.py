"""Shared pieces of the benchmark: month sizes, the synthetic world of each size, cache layout.

Every measured step reads the same files: one closed month of the sandbox world, written once per
size under the cache folder (default `bench/.cache/`, gitignored):

    <cache>/worlds/<size>/               the inbox: customerBill/customerBill_YYYYMM.tar.gz,
                                         agreements/customer_discounts.csv, agreements/incentive_rates.csv
    <cache>/worlds/<size>/manifest.json  how it was generated and how many bill lines it holds
    <cache>/runs/<size>/<step>/          what a step writes (warehouse, reports, temporary files)

This module imports nothing heavy: the parent process of `bench.run` stays small, so its own
memory never blurs the per-step figures measured in child processes.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from schemas.bill_cycle import BillCycle

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_CACHE = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"

DEFAULT_SIZES = ("1M", "3M", "10M")

# The month every benchmark world closes (its open month, with no usage export, follows).
BILL_CYCLE = "2026-09"


@dataclass(frozen=True)
class WorldSpec:
    """The sandbox world of one benchmark size: one closed month of `lines` bill lines.

    Many customers so that grouping and the agreement join have realistic cardinality; CSV members
    of 100,000 rows as HUAWEI CLOUD delivers them; no usage exports (`usage_export_days=0`,
    `closing_month_exports=0`): the month close reads only the bill file and the agreements, and the
    generator does not have to build a second month of lines.
    """

    lines: int
    seed: int = 20260
    customers: int = 2_000
    resellers: int = 5
    member_rows: int = 100_000
    first_month: str = BILL_CYCLE

    def world_config_kwargs(self) -> dict:
        return {
            "seed": self.seed,
            "customers": self.customers,
            "resellers": self.resellers,
            "closed_months": 1,
            "lines_per_month": self.lines,
            "first_month": self.first_month,
            "member_rows": self.member_rows,
            "usage_export_days": 0,
            "closing_month_exports": 0,
        }


def parse_size(text: str) -> int:
    """'1M' → 1_000_000, '250k' → 250_000, '3000' → 3000."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 1M, 250k, 3000)")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    value = float(match.group(1)) * factor
    if value < 1 or value != int(value):
        raise ValueError(f"not a whole number of lines: {text!r}")
    return int(value)


def size_label(lines: int) -> str:
    """1_000_000 → '1M', 250_000 → '250k'."""
    if lines % 1_000_000 == 0:
        return f"{lines // 1_000_000}M"
    if lines % 1_000 == 0:
        return f"{lines // 1_000}k"
    return str(lines)


def bill_key(bill_cycle: str = BILL_CYCLE) -> str:
    return f"customerBill/customerBill_{BillCycle.parse(bill_cycle).compact}.tar.gz"


DISCOUNTS_KEY = "agreements/customer_discounts.csv"


def world_dir(cache: Path, label: str) -> Path:
    return Path(cache) / "worlds" / label


def work_dir(cache: Path, label: str, step: str) -> Path:
    return Path(cache) / "runs" / label / step


def manifest_path(cache: Path, label: str) -> Path:
    return world_dir(cache, label) / "manifest.json"


def read_manifest(cache: Path, label: str) -> dict | None:
    path = manifest_path(cache, label)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def spec_dict(spec: WorldSpec) -> dict:
    return asdict(spec)
