"""What every kind of planted anomaly shares (sandbox/anomalies.py): the record of a plant, and the
planter's state and choices: the world being changed, which lines and keys plants have touched,
random places and amounts from the anomalies' own stream.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from .world import World

ANOMALY_STREAM = 301

CENT = Decimal("0.01")
T = TypeVar("T")


@dataclass(frozen=True)
class PlantedAnomaly:
    """One planted anomaly: the finding the reconciliation must report for it."""

    rule_id: str
    bill_cycle: str | None
    customer_id: str | None
    reference: str | None
    amount: Decimal | None   # difference_amount as docs/reconciliation.md defines it; None where it has none

    def record(self) -> dict[str, Any]:
        """The ground-truth record: the amount rounded half-up to the cent, as text."""
        # Adding 0 turns a rounded −0.00 into 0.00.
        amount = None if self.amount is None else str(self.amount.quantize(CENT, rounding=ROUND_HALF_UP) + 0)
        return {"rule_id": self.rule_id, "bill_cycle": self.bill_cycle, "customer_id": self.customer_id,
                "reference": self.reference, "amount": amount}


def _edited(frame: pl.DataFrame, trade_id: str, changes: dict[str, Any]) -> pl.DataFrame:
    """`frame` with the columns of the line `trade_id` set to `changes`."""
    hit = pl.col("trade_id") == trade_id
    return frame.with_columns(pl.when(hit).then(pl.lit(value, dtype=frame.schema[column])).otherwise(pl.col(column))
                              .alias(column) for column, value in changes.items())


class Planter:
    """Chooses the places, changes the world and records each plant."""

    def __init__(self, world: World, count: int):
        self.world = world
        self.count = count
        self.rng = np.random.default_rng([world.config.seed, ANOMALY_STREAM])
        self.closed = list(world.closed_months)
        self.lines: dict[str, pl.DataFrame] = {month: world.bill_lines[month] for month in self.closed}
        self.cash_payers = world.customers.filter(pl.col("payment_method") == "cash")["customer_id"].to_list()
        self.contract_rate = {row["service_type_code"]: Decimal(row["discount_rate"])
                              for row in world.contract_discounts.iter_rows(named=True)}
        self.planted: list[PlantedAnomaly] = []
        self.touched_lines: set[str] = set()                       # trade_ids changed or relied upon
        self.margin_groups: set[tuple[str, str, str]] = set()      # (cycle, customer, service) kept as they are
        self.agreement_keys: set[tuple[str, str, str]] = set()     # (customer, service, resource) planted on
        self.coupon_customers: set[str] = set()
        self.expired_coupon_uses: list[tuple[str, str, Decimal]] = []   # (customer, trade_time, amount)

    # ------------------------------------------------------------------------------ choosing

    def _shuffled(self, items: Sequence[T]) -> Iterator[T]:
        for index in self.rng.permutation(len(items)):
            yield items[int(index)]

    def _amount(self, low: str | Decimal, high: str | Decimal) -> Decimal:
        """A random amount with cents between `low` and `high` (both included)."""
        low, high = Decimal(low), Decimal(high)
        steps = int((high - low) / CENT)
        return low + CENT * int(self.rng.integers(0, steps + 1))

    def _plant(self, rule_id: str, bill_cycle: str | None, customer_id: str | None, reference: str | None,
               amount: Decimal | None) -> None:
        self.planted.append(PlantedAnomaly(rule_id, bill_cycle, customer_id, reference, amount))

    def _main_payment(self) -> pl.Expr:
        """The instrument a line's customer mainly pays with: cash, or monthly settlement (credit)."""
        return pl.when(pl.col("customer_id").is_in(self.cash_payers)).then(pl.col("cash_amount")) \
            .otherwise(pl.col("credit_amount"))

    def _main_column(self, customer_id: str) -> str:
        return "cash_amount" if customer_id in self.cash_payers else "credit_amount"

    def _lines_to_plant(self, condition: pl.Expr) -> Iterator[tuple[str, dict]]:
        """(month, line) of the closed months' lines meeting `condition`, in random order, leaving out
        lines a plant has touched and lines of negative-margin groups. Each line is read when its turn
        comes, so it shows the changes made meanwhile."""
        places = []
        for month in self.closed:
            kept = [f"{customer}|{service}" for cycle, customer, service in sorted(self.margin_groups)
                    if cycle == month]
            group = pl.concat_str([pl.col("customer_id"), pl.col("service_type_code")], separator="|")
            frame = self.lines[month].filter(condition & ~pl.col("trade_id").is_in(list(self.touched_lines))
                                             & ~group.is_in(kept))
            places += [(month, trade_id) for trade_id in frame["trade_id"].to_list()]
        for month, trade_id in self._shuffled(places):
            if trade_id not in self.touched_lines:
                yield month, self.lines[month].filter(pl.col("trade_id") == trade_id).row(0, named=True)

    def _pick(self, places: Sequence[T]) -> list[T]:
        """`count` of `places` (all of them when there are fewer), chosen at random."""
        return list(self._shuffled(places))[:self.count]

    def _change_line(self, month: str, line: dict, changes: dict[str, Any]) -> None:
        self.lines[month] = _edited(self.lines[month], line["trade_id"], changes)
        self.touched_lines.add(line["trade_id"])


    def _open_lines_until_now(self) -> pl.DataFrame:
        """The open month's lines the API has seen (up to its as-of time)."""
        cutoff = self.world.api_data.as_of_file_time
        return self.world.month_lines[self.world.open_month].filter(pl.col("trade_time") <= cutoff)

