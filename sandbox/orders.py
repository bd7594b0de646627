"""Orders of the subscriptions across the world's months: New, Renew and Change orders, and the
unsubscriptions whose Refund lines point back at the New/Renew order they refund.

Everything is decided once for the whole world (orders are a small share of the lines), so a refund
in a later month can carry the exact amounts of the order it refunds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .catalog import YEARLY_MONTHLY, Catalog
from .discounts import PROMO_200, PROMO_NONE, discount_lines
from .ids import order_ids
from .money import CENT, RATE_SCALE, LineAmounts, refund_of, round_to_cents, settle, usd_to_units
from .resources import Subscriptions

NEW, RENEW, CHANGE, UNSUBSCRIBE = 0, 1, 2, 3
ORDER_TYPE_TEXT = ("New", "Renew", "Change", "Unsubscribe")

_HOUR = 3600
_DAY = 86400
_MONTHS_BILLED_PER_YEAR = 10  # a yearly subscription costs ten monthly prices


@dataclass
class OrderBook:
    """Every order line of the world (New/Renew/Change expenditure and Unsubscribe refunds).

    Arrays are aligned; `original` is the row of the refunded order (-1 when not a refund)."""

    month: np.ndarray
    subscription: np.ndarray
    order_type: np.ndarray
    trade_time: np.ndarray
    original: np.ndarray
    order_id: pl.Series
    amounts: LineAmounts
    discount_code: np.ndarray

    def rows_of_month(self, month_index: int) -> np.ndarray:
        return np.flatnonzero(self.month == month_index)


def make_order_book(
    rng: np.random.Generator,
    catalog: Catalog,
    subs: Subscriptions,
    month_starts: np.ndarray,
    contract_rate: np.ndarray,
    pays_cash: np.ndarray,
) -> OrderBook:
    """Orders for months 0 … len(month_starts) − 2 (the last start closes the open month).
    `contract_rate` is HUAWEI's 605 rate per service index, in 1e-4."""
    month_count = month_starts.size - 1
    month_length = np.diff(month_starts)
    months = np.arange(month_count)
    sub_count = subs.customer.size

    # New/Renew orders fall due every period, counted from the start month.
    since_start = months[None, :] - subs.start_month[:, None]
    falls_due = (since_start >= 0) & (since_start % subs.period_in_months[:, None] == 0)

    # Unsubscriptions: only of yearly/monthly resources with an order inside the world to refund.
    has_order = falls_due.any(axis=1)
    first_order_month = np.where(has_order, falls_due.argmax(axis=1), month_count)
    is_yearly_monthly = catalog.billing_mode[subs.offer] == YEARLY_MONTHLY
    months_to_go = month_count - first_order_month
    unsubscribes = (has_order & is_yearly_monthly
                    & (rng.random(sub_count) < 1 - 0.97 ** np.maximum(months_to_go, 0)))
    unsubscribe_month = np.where(unsubscribes, first_order_month + (rng.random(sub_count) * months_to_go)
                                 .astype(np.int64), month_count)
    falls_due &= months[None, :] <= unsubscribe_month[:, None]

    # Yearly/monthly resources change spec now and then (upgrades, paid as Change orders).
    started = since_start >= 0
    changes = (started & is_yearly_monthly[:, None] & (rng.random((sub_count, month_count)) < 0.02)
               & (months[None, :] < unsubscribe_month[:, None]))

    due_sub, due_month = np.nonzero(falls_due)
    is_new = due_month == subs.start_month[due_sub]
    # A renewal is paid on the day the period ends, at whatever time the renewal job ran.
    renew_offset = subs.anchor_seconds[due_sub] // _DAY * _DAY + rng.integers(0, _DAY, size=due_sub.size)
    due_time = month_starts[due_month] + np.where(is_new, subs.anchor_seconds[due_sub], renew_offset)

    order_time_in_month = np.full((sub_count, month_count), -1, dtype=np.int64)
    order_time_in_month[due_sub, due_month] = due_time - month_starts[due_month]

    change_sub, change_month = np.nonzero(changes)
    change_time = month_starts[change_month] + _between(
        rng, np.maximum(order_time_in_month[change_sub, change_month] + _HOUR, 0),
        month_length[change_month] - _HOUR)

    # --- amounts of New/Renew/Change orders
    factor = np.where(subs.region >= 0, catalog.region_price_factor[np.maximum(subs.region, 0)], 1.0)
    monthly_usd = catalog.unit_price[subs.offer] * subs.size * factor
    billed_months = np.where(subs.period_is_year, _MONTHS_BILLED_PER_YEAR * subs.period_num, subs.period_num)
    due_official = round_to_cents(usd_to_units(monthly_usd[due_sub] * billed_months[due_sub]))
    upgrade_months = rng.uniform(0.1, 1.0, size=change_sub.size) * subs.period_in_months[change_sub]
    change_official = round_to_cents(usd_to_units(
        monthly_usd[change_sub] * rng.uniform(0.2, 1.0, size=change_sub.size) * upgrade_months))
    change_official = np.maximum(change_official, CENT)

    line_sub = np.concatenate([due_sub, change_sub])
    line_month = np.concatenate([due_month, change_month])
    line_type = np.concatenate([np.where(is_new, NEW, RENEW), np.full(change_sub.size, CHANGE)])
    line_time = np.concatenate([due_time, change_time])
    official = np.concatenate([due_official, change_official])

    offer = subs.offer[line_sub]
    customer = subs.customer[line_sub]
    # Every order of a service with a contract rate gets it (RI subscriptions too); savings plans,
    # whose policy allows no discount, have none. Promotions are for new yearly/monthly orders.
    contract = contract_rate[catalog.service_index[offer]]
    promotable = (catalog.billing_mode[offer] == YEARLY_MONTHLY) & (contract > 0)
    promo_kind = np.where((line_type == NEW) & promotable & (rng.random(line_sub.size) < 0.12),
                          PROMO_200, PROMO_NONE)
    discount, discount_code = discount_lines(rng, official, contract, promo_kind)
    truncate = rng.random(line_sub.size) < 0.3
    amounts = settle(rng, official, discount, truncate, pays_cash[customer], coupon_share=0.08)

    # --- refunds: the last New/Renew order at or before the unsubscription, pro rata of the time left
    row_of = np.full((sub_count, month_count), -1, dtype=np.int64)
    row_of[due_sub, due_month] = np.arange(due_sub.size)
    last_row = _last_row_up_to(row_of)
    refund_sub = np.flatnonzero(unsubscribes)
    refund_month = unsubscribe_month[refund_sub]
    original = last_row[refund_sub, refund_month]
    assert (original >= 0).all(), "every unsubscription refunds an order of the world"
    original_in_same_month = line_month[original] == refund_month
    earliest = np.where(original_in_same_month, line_time[original] - month_starts[refund_month] + _HOUR, 0)
    refund_time = month_starts[refund_month] + _between(rng, earliest, month_length[refund_month] - _HOUR)
    period_seconds = subs.period_in_months[refund_sub] * 30.4375 * _DAY
    remaining = np.clip(1.0 - (refund_time - line_time[original]) / period_seconds, 0.01, 1.0)
    remaining_rate = np.rint(remaining * RATE_SCALE).astype(np.int64)
    refunds = refund_of(amounts.take(original), remaining_rate, pays_cash[subs.customer[refund_sub]])

    all_sub = np.concatenate([line_sub, refund_sub])
    all_month = np.concatenate([line_month, refund_month])
    all_type = np.concatenate([line_type, np.full(refund_sub.size, UNSUBSCRIBE)])
    all_time = np.concatenate([line_time, refund_time])
    all_original = np.concatenate([np.full(line_sub.size, -1), original])
    all_amounts = LineAmounts.concat([amounts, refunds])
    # A refund returns money at the price paid (refund_of): it carries no discount, hence no types.
    all_discount_code = np.concatenate([discount_code, np.zeros(refund_sub.size, dtype=np.int64)])

    # Order numbers follow payment time, like a real order system's sequence.
    by_time = np.lexsort((np.arange(all_time.size), all_time))
    sequence = np.empty_like(by_time)
    sequence[by_time] = np.arange(by_time.size)
    ids = order_ids(sequence, all_time)
    return OrderBook(all_month, all_sub, all_type, all_time, all_original, ids, all_amounts, all_discount_code)


def _between(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Uniform integers in [low, high), with high raised to low + 1 where the range is empty."""
    low = np.asarray(low, dtype=np.int64)
    high = np.maximum(np.asarray(high, dtype=np.int64), low + 1)
    return low + (rng.random(low.size) * (high - low)).astype(np.int64)


def _last_row_up_to(row_of: np.ndarray) -> np.ndarray:
    """For each (subscription, month): the latest order row in that month or before (-1 if none)."""
    month_index = np.arange(row_of.shape[1])[None, :]
    latest_month = np.maximum.accumulate(np.where(row_of >= 0, month_index, -1), axis=1)
    rows = np.take_along_axis(row_of, np.maximum(latest_month, 0), axis=1)
    return np.where(latest_month >= 0, rows, -1)
