"""Money in integer units of 1e-8 USD (numpy int64), so the line identities hold exactly.

Every function here works on whole arrays. Rates are integers in basis points of 1e-4 (a 12.5 %
discount is 1250), which keeps every product inside int64: amounts stay below 1e13 units
(100,000 USD) and rates at or below 10,000.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

UNITS_PER_USD = 100_000_000
CENT = 1_000_000           # 0.01 USD in units
RATE_SCALE = 10_000        # rates are integers out of 10,000

# Payment instruments, in the order of the bill line columns (docs/formats.md#bill-line-columns).
CASH, CREDIT, CASH_COUPON, VOUCHER, STORED_CARD, DEBT, WRITEOFF = range(7)
PAYMENT_NAMES = ("cash_amount", "credit_amount", "cash_coupon_amount", "voucher_amount",
                 "stored_card_amount", "debt_amount", "writeoff_amount")
COUPON_INSTRUMENTS = (CASH_COUPON, VOUCHER, STORED_CARD)


def usd_to_units(amount_usd: np.ndarray) -> np.ndarray:
    """Round float USD amounts to whole 1e-8 units."""
    return np.rint(np.asarray(amount_usd, dtype=np.float64) * UNITS_PER_USD).astype(np.int64)


def round_to_cents(units: np.ndarray) -> np.ndarray:
    return (np.asarray(units, dtype=np.int64) + CENT // 2) // CENT * CENT


def apply_rate(units: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """floor(units × rate / 10,000) for non-negative units; the result never exceeds `units`."""
    return np.asarray(units, dtype=np.int64) * np.asarray(rate, dtype=np.int64) // RATE_SCALE


@dataclass
class LineAmounts:
    """The money columns of a batch of lines, in units. `payments` has shape (7, n)."""

    official: np.ndarray
    discount: np.ndarray
    truncated: np.ndarray
    payments: np.ndarray

    @property
    def due(self) -> np.ndarray:
        return self.official - self.discount - self.truncated

    def __len__(self) -> int:
        return self.official.size

    def take(self, index: np.ndarray) -> LineAmounts:
        return LineAmounts(self.official[index], self.discount[index], self.truncated[index],
                           self.payments[:, index])

    @staticmethod
    def concat(parts: list[LineAmounts]) -> LineAmounts:
        return LineAmounts(
            np.concatenate([p.official for p in parts]),
            np.concatenate([p.discount for p in parts]),
            np.concatenate([p.truncated for p in parts]),
            np.concatenate([p.payments for p in parts], axis=1),
        )

    def check(self) -> None:
        """Assert both identities of docs/formats.md#line-identities-and-signs (cheap, run on every batch)."""
        assert np.array_equal(self.payments.sum(axis=0), self.due), "payment split does not add up"


def settle(
    rng: np.random.Generator,
    official: np.ndarray,
    discount: np.ndarray,
    truncate: np.ndarray,
    pays_cash: np.ndarray,
    coupon_share: float,
) -> LineAmounts:
    """Amounts of expenditure lines: truncation, amount due and how it was paid.

    `truncate` marks lines whose amount due is cut to whole cents (抹零, on orders). Most of the due
    amount goes to the customer's main instrument (cash, or credit = monthly settlement); about
    `coupon_share` of the lines are partly (sometimes wholly) paid by a cash coupon, voucher or
    stored-value card.
    """
    count = official.size
    after_discount = official - discount
    truncated = np.where(truncate, after_discount % CENT, 0)
    due = after_discount - truncated
    payments = np.zeros((7, count), dtype=np.int64)
    uses_coupon = rng.random(count) < coupon_share
    instrument = rng.choice(np.array(COUPON_INSTRUMENTS), size=count, p=[0.6, 0.3, 0.1])
    share = np.where(rng.random(count) < 0.15, RATE_SCALE, rng.integers(500, RATE_SCALE, size=count))
    coupon_part = np.where(uses_coupon, apply_rate(due, share), 0)
    for kind in COUPON_INSTRUMENTS:  # three instruments, not one iteration per line
        payments[kind] = np.where(instrument == kind, coupon_part, 0)
    rest = due - coupon_part
    payments[CASH] = np.where(pays_cash, rest, 0)
    payments[CREDIT] = np.where(pays_cash, 0, rest)
    amounts = LineAmounts(official, discount, truncated, payments)
    amounts.check()
    return amounts


def refund_of(original: LineAmounts, remaining_rate: np.ndarray, pays_cash: np.ndarray) -> LineAmounts:
    """Refund lines (all amounts ≤ 0) returning `remaining_rate` / 10,000 of what the original
    orders cost after discounts.

    A refund gives back money at the price paid, so its list price is the refunded amount and it
    carries no discount (HUAWEI CLOUD shows an unsubscribe order the same way: official amount =
    amount after discount, docs/domain.md#amounts), and the refunded amount never exceeds the
    original amount due. The partner bills the customer back the same share of the original order's
    customer charge (docs/reconciliation.md, "Refunds"). Each coupon part is
    −floor(original part × rate); the main instrument takes the rest, which is never positive
    because Σ floor(coupon·r) ≤ floor(Σ coupon·r) ≤ floor(due·r).
    """
    refunded = apply_rate(original.due, remaining_rate)
    official = -refunded
    zeros = np.zeros_like(official)
    payments = np.zeros_like(original.payments)
    for kind in COUPON_INSTRUMENTS:
        payments[kind] = -apply_rate(original.payments[kind], remaining_rate)
    rest = official - payments[list(COUPON_INSTRUMENTS)].sum(axis=0)
    payments[CASH] = np.where(pays_cash, rest, 0)
    payments[CREDIT] = np.where(pays_cash, 0, rest)
    amounts = LineAmounts(official, zeros, zeros.copy(), payments)
    amounts.check()
    assert (official <= 0).all() and (payments <= 0).all()
    return amounts


def plain_charge(amount: np.ndarray, pays_cash: np.ndarray) -> LineAmounts:
    """Lines without discount whose whole amount (of either sign) goes to the main instrument."""
    amount = np.asarray(amount, dtype=np.int64)
    zeros = np.zeros_like(amount)
    payments = np.zeros((7, amount.size), dtype=np.int64)
    payments[CASH] = np.where(pays_cash, amount, 0)
    payments[CREDIT] = np.where(pays_cash, 0, amount)
    return LineAmounts(amount, zeros, zeros.copy(), payments)


def units_to_decimal(expr: pl.Expr) -> pl.Expr:
    """An Int64 expression of units → Decimal(20,8) with the same value in USD (exact)."""
    return (expr.cast(pl.Decimal(38, 8)) / UNITS_PER_USD).cast(pl.Decimal(20, 8))


def decimal_to_units(series: pl.Series) -> np.ndarray:
    """A Decimal(…, 8) series → int64 units (exact; nulls become 0)."""
    return series.cast(pl.Decimal(38, 8)).to_physical().fill_null(0).cast(pl.Int64).to_numpy()
