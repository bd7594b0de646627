"""Assemble the bill lines of one month: pay-per-use meter charges, the month's orders and refunds
from the order book, and fee adjustments. One call builds one month with whole-array operations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .catalog import PAY_PER_USE, Catalog
from .discounts import DISCOUNT_TYPE_TEXT, PROMO_700, PROMO_NONE, discount_lines
from .formats import BILL_LINE_COLUMNS, MONEY_COLUMNS
from .ids import zero_padded
from .money import (
    CENT,
    PAYMENT_NAMES,
    UNITS_PER_USD,
    LineAmounts,
    plain_charge,
    round_to_cents,
    settle,
    units_to_decimal,
    usd_to_units,
)
from .months import SECONDS_PER_DAY, SECONDS_PER_HOUR, format_times
from .orders import ORDER_TYPE_TEXT, UNSUBSCRIBE, OrderBook
from .resources import Subscriptions, UsageResources

EXPENDITURE, REFUND, ADJUSTMENT = 0, 1, 2
BILL_TYPE_TEXT = ("Expenditure", "Refund", "Adjustment")
FEE_ADJUSTMENT = len(ORDER_TYPE_TEXT)            # order-type code of adjustment lines
ORDER_TYPE_TEXT_ALL = (*ORDER_TYPE_TEXT, "Fee adjustment")
_FROM_USAGE, _FROM_ORDERS, _FROM_ADJUSTMENTS = 0, 1, 2

# Stream numbers of the month-level random generators (seeded by [seed, stream, month index]).
USAGE_STREAM, ADJUSTMENT_STREAM = 101, 102


@dataclass
class WorldState:
    """Everything decided once for the world, from which any month's lines can be (re)built."""

    seed: int
    catalog: Catalog
    months: list[str]                # closed months, then the open month
    month_starts: np.ndarray         # local seconds; one more entry than months (end of the open month)
    customers: pl.DataFrame
    pays_cash: np.ndarray            # per customer
    usage: UsageResources
    subscriptions: Subscriptions
    orders: OrderBook
    contract_rate: np.ndarray        # per service index: HUAWEI's 605 contract rate in 1e-4 (0 = no discount)
    resources: pl.DataFrame          # resource_id, resource_name: usage resources first, then subscriptions
    usage_lines_per_month: int
    adjustments_per_month: int


@dataclass
class _Batch:
    """Lines of one source before they are merged and sorted (and, merged, all lines of a month)."""

    source: np.ndarray               # _FROM_USAGE, _FROM_ORDERS or _FROM_ADJUSTMENTS per line
    bill_type: np.ndarray
    customer: np.ndarray
    offer: np.ndarray
    region: np.ndarray
    resource: np.ndarray
    trade_time: np.ndarray
    order_type: np.ndarray           # -1 = empty
    period_num: np.ndarray           # -1 = empty
    period_is_year: np.ndarray
    is_spot: np.ndarray
    usage_units: np.ndarray          # -1 = empty
    discount_code: np.ndarray
    amounts: LineAmounts
    ids: pl.Series                   # trade IDs known in advance (null for pay-per-use lines)
    original_ids: pl.Series


def build_month_lines(state: WorldState, month_index: int) -> pl.DataFrame:
    """The bill lines whose billing cycle is `state.months[month_index]`, sorted by trade time."""
    # The batches are dropped once merged, so only one copy of a large month's arrays is alive.
    lines = _merge_by_time(state, month_index, [
        _usage_batch(state, month_index),
        _order_batch(state, month_index),
        _adjustment_batch(state, month_index),
    ])
    return _render(state, month_index, lines)


# ----------------------------------------------------------------------------------------- usage

def _usage_batch(state: WorldState, month_index: int) -> _Batch:
    rng = np.random.default_rng([state.seed, USAGE_STREAM, month_index])
    catalog, usage = state.catalog, state.usage
    month_start = int(state.month_starts[month_index])
    days = (int(state.month_starts[month_index + 1]) - month_start) // SECONDS_PER_DAY

    resource_of = usage.meter_resource
    active = np.flatnonzero((usage.first_month[resource_of] <= month_index)
                            & (usage.last_month[resource_of] >= month_index))
    offer_of_active = usage.meter_offer[active]
    granularity = catalog.granularity[offer_of_active]
    periods = np.select([granularity == 0, granularity == 1], [days * 24, days], 1)
    lengths = _window_lengths(rng, usage.meter_scale[active], periods, state.usage_lines_per_month)
    starts = (rng.random(active.size) * (periods - lengths + 1)).astype(np.int64)
    # Resources started mid-window bill a part of their first hour.
    partial_first = (starts > 0) & (rng.random(active.size) < 0.5)
    first_fraction = rng.integers(1, 10_000, size=active.size) * (UNITS_PER_USD // 10_000)

    # One line per (meter instance, period) of each window.
    instance = np.repeat(active, lengths)
    window = np.repeat(np.arange(active.size), lengths)
    offset = np.arange(instance.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    period = starts[window] + offset
    offer = usage.meter_offer[instance]
    resource = resource_of[instance]
    customer = usage.customer[resource]
    region = usage.region[resource]
    line_granularity = granularity[window]

    next_month_start = int(state.month_starts[month_index + 1])
    trade_time = np.select(
        [line_granularity == 0, line_granularity == 1],
        [month_start + (period + 1) * SECONDS_PER_HOUR, month_start + (period + 1) * SECONDS_PER_DAY],
        next_month_start + 20 * SECONDS_PER_HOUR,  # monthly meters (95th percentile) bill at 20:00 on the 1st
    )

    hours_per_period = np.select([line_granularity == 0, line_granularity == 1], [1, 24], days * 24)
    quantity = catalog.quantity[offer]
    time_units = np.where((offset == 0) & partial_first[window], first_fraction[window],
                          hours_per_period * UNITS_PER_USD)
    sized_units = (usage.size[resource] * hours_per_period * UNITS_PER_USD).astype(np.int64)
    mean_volume = catalog.volume_mean[offer] * usage.meter_scale[instance]
    volume = mean_volume * rng.lognormal(-0.18, 0.6, size=instance.size)
    volume_units = np.maximum(np.rint(volume * 10_000), 1).astype(np.int64) * (UNITS_PER_USD // 10_000)
    usage_units = np.select([quantity == 0, quantity == 1], [time_units, sized_units], volume_units)

    region_factor = np.where(region >= 0, catalog.region_price_factor[np.maximum(region, 0)], 1.0)
    spot = usage.is_spot[resource]
    price = catalog.unit_price[offer] * region_factor * np.where(spot, 0.3, 1.0)
    official = np.rint(usage_units * price).astype(np.int64)

    # The contract discount covers every line of its service (reserved-instance hours too), so no
    # line of a discounted service costs the partner its list price; promotions are pay-per-use only.
    contract = state.contract_rate[catalog.service_index[offer]]
    promotable = (catalog.billing_mode[offer] == PAY_PER_USE) & (contract > 0)
    promo_kind = np.where(promotable & (rng.random(instance.size) < 0.02), PROMO_700, PROMO_NONE)
    discount, discount_code = discount_lines(rng, official, contract, promo_kind)
    amounts = settle(rng, official, discount, np.zeros(instance.size, dtype=bool), state.pays_cash[customer],
                     coupon_share=0.05)

    count = instance.size
    empty = np.full(count, -1, dtype=np.int64)
    return _Batch(
        source=np.full(count, _FROM_USAGE), bill_type=np.full(count, EXPENDITURE), customer=customer,
        offer=offer, region=region, resource=resource, trade_time=trade_time, order_type=empty, period_num=empty,
        period_is_year=np.zeros(count, dtype=bool), is_spot=spot, usage_units=usage_units,
        discount_code=discount_code, amounts=amounts,
        ids=pl.repeat(None, count, dtype=pl.String, eager=True),
        original_ids=pl.repeat(None, count, dtype=pl.String, eager=True),
    )


def _window_lengths(rng: np.random.Generator, scale: np.ndarray, periods: np.ndarray, target: int) -> np.ndarray:
    """Lines per meter instance this month: shares of `target` by weight, between 1 and the periods
    in the month. What rounding and the cap cut off goes, one line each, to the heaviest instances
    that still have room, so the month gets close to `target` lines."""
    if scale.size == 0:
        return np.zeros(0, dtype=np.int64)
    weight = scale * rng.lognormal(0.0, 0.4, size=scale.size)
    lengths = np.clip(np.floor(target * weight / weight.sum()), 1, periods).astype(np.int64)
    heaviest_first = np.argsort(-weight, kind="stable")
    while True:  # each pass hands out the rest by weight, capped; the deficit shrinks every pass
        deficit = target - int(lengths.sum())
        room = periods - lengths
        if deficit <= 0 or not room.any():
            return lengths
        room_weight = np.where(room > 0, weight, 0.0)
        extra = np.minimum(np.floor(deficit * room_weight / room_weight.sum()).astype(np.int64), room)
        if extra.sum() < max(1, deficit // 64):
            # Shares have become too small to round up: one more line each, heaviest first.
            candidates = heaviest_first[room[heaviest_first] > 0][:deficit]
            extra = np.zeros_like(lengths)
            extra[candidates] = 1
        lengths += extra


# ----------------------------------------------------------------------------------------- orders

def _order_batch(state: WorldState, month_index: int) -> _Batch:
    book, subs = state.orders, state.subscriptions
    rows = book.rows_of_month(month_index)
    sub = book.subscription[rows]
    is_refund = book.order_type[rows] == UNSUBSCRIBE
    original = book.original[rows]
    original_ids = book.order_id.gather(pl.Series(np.where(is_refund, original, 0))).set(
        pl.Series(~is_refund), None) if rows.size else pl.Series([], dtype=pl.String)
    count = rows.size
    return _Batch(
        source=np.full(count, _FROM_ORDERS), bill_type=np.where(is_refund, REFUND, EXPENDITURE),
        customer=subs.customer[sub], offer=subs.offer[sub], region=subs.region[sub],
        resource=state.usage.customer.size + sub, trade_time=book.trade_time[rows],
        order_type=book.order_type[rows], period_num=np.where(is_refund, -1, subs.period_num[sub]),
        period_is_year=subs.period_is_year[sub], is_spot=np.zeros(count, dtype=bool),
        usage_units=np.full(count, -1, dtype=np.int64), discount_code=book.discount_code[rows],
        amounts=book.amounts.take(rows), ids=book.order_id.gather(pl.Series(rows, dtype=pl.Int64)),
        original_ids=original_ids,
    )


# ----------------------------------------------------------------------------------------- adjustments

def _adjustment_batch(state: WorldState, month_index: int) -> _Batch:
    """Fee adjustments on resources active this month: mostly compensations (negative), some charges."""
    rng = np.random.default_rng([state.seed, ADJUSTMENT_STREAM, month_index])
    usage = state.usage
    month_start = int(state.month_starts[month_index])
    month_length = int(state.month_starts[month_index + 1]) - month_start
    resource_of = usage.meter_resource
    active = np.flatnonzero((usage.first_month[resource_of] <= month_index)
                            & (usage.last_month[resource_of] >= month_index))
    count = state.adjustments_per_month if active.size else 0
    instance = rng.choice(active, size=count) if count else np.zeros(0, dtype=np.int64)
    resource = resource_of[instance]
    customer = usage.customer[resource]
    trade_time = np.sort(month_start + SECONDS_PER_HOUR
                         + (rng.random(count) * (month_length - 2 * SECONDS_PER_HOUR)).astype(np.int64))
    magnitude = np.maximum(round_to_cents(usd_to_units(rng.lognormal(np.log(25.0), 1.0, size=count))), CENT)
    amount = np.where(rng.random(count) < 0.6, -magnitude, magnitude)
    ids = pl.select(pl.concat_str([pl.lit("ADJ" + state.months[month_index].replace("-", "")),
                                   zero_padded(np.arange(count), 6)])).to_series() if count else \
        pl.Series([], dtype=pl.String)
    empty = np.full(count, -1, dtype=np.int64)
    return _Batch(
        source=np.full(count, _FROM_ADJUSTMENTS), bill_type=np.full(count, ADJUSTMENT), customer=customer,
        offer=usage.meter_offer[instance], region=usage.region[resource], resource=resource,
        trade_time=trade_time, order_type=np.full(count, FEE_ADJUSTMENT), period_num=empty,
        period_is_year=np.zeros(count, dtype=bool), is_spot=np.zeros(count, dtype=bool), usage_units=empty,
        discount_code=np.zeros(count, dtype=np.int64), amounts=plain_charge(amount, state.pays_cash[customer]),
        ids=ids, original_ids=pl.repeat(None, count, dtype=pl.String, eager=True),
    )


# ----------------------------------------------------------------------------------------- frame

def _merge_by_time(state: WorldState, month_index: int, batches: list[_Batch]) -> _Batch:
    """One batch holding every line, sorted by trade time; ties keep the order of `batches`."""
    trade_time = np.concatenate([b.trade_time for b in batches])
    # Times of one cycle span less than 2^22 s, so time and position pack into one int64 sort key.
    relative = trade_time - int(state.month_starts[month_index])
    order = np.argsort((relative << 40) | np.arange(trade_time.size))

    def merged(field: str) -> np.ndarray:
        return np.concatenate([getattr(b, field) for b in batches])[order]

    by_time = pl.Series(order)
    return _Batch(
        source=merged("source"), bill_type=merged("bill_type"), customer=merged("customer"), offer=merged("offer"),
        region=merged("region"), resource=merged("resource"), trade_time=trade_time[order],
        order_type=merged("order_type"), period_num=merged("period_num"), period_is_year=merged("period_is_year"),
        is_spot=merged("is_spot"), usage_units=merged("usage_units"), discount_code=merged("discount_code"),
        amounts=LineAmounts.concat([b.amounts for b in batches]).take(order),
        ids=pl.concat([b.ids for b in batches]).gather(by_time),
        original_ids=pl.concat([b.original_ids for b in batches]).gather(by_time),
    )


def _gather(frame: pl.DataFrame, rows: np.ndarray) -> pl.DataFrame:
    return frame.select(pl.all().gather(pl.Series(rows)))


def _text(values: tuple[str | None, ...] | list[str], codes: np.ndarray, empty: np.ndarray | None = None) -> pl.Series:
    """Text of small integer codes; rows flagged in `empty` become null."""
    series = pl.Series(list(values), dtype=pl.String).gather(pl.Series(np.asarray(codes, dtype=np.int64)))
    return series.set(pl.Series(empty), None) if empty is not None else series


def _render(state: WorldState, month_index: int, lines: _Batch) -> pl.DataFrame:
    """The bill-line frame (docs/formats.md#bill-line-columns, in order) of merged lines."""
    month = state.months[month_index]
    catalog = state.catalog
    amounts = lines.amounts
    no_usage = lines.usage_units < 0
    no_period = lines.period_num < 0
    no_order_type = lines.order_type < 0

    # Pay-per-use transaction IDs are numbered by trade time within the cycle; others are known already.
    is_usage = lines.source == _FROM_USAGE
    usage_ids = pl.select(pl.concat_str([pl.lit("BT" + month.replace("-", "")),
                                         zero_padded(np.cumsum(is_usage) - 1, 12)])).to_series()
    trade_ids = pl.select(pl.when(pl.Series(is_usage)).then(usage_ids).otherwise(lines.ids)).to_series()

    regions = pl.concat([catalog.regions.select("region_code", "region_name"),
                         pl.DataFrame(schema={"region_code": pl.String, "region_name": pl.String}).clear(1)])
    money_units = {
        "official_amount": amounts.official, "discount_amount": amounts.discount,
        "truncated_amount": amounts.truncated, "amount_due": amounts.due,
        **{name: amounts.payments[i] for i, name in enumerate(PAYMENT_NAMES)},
    }
    frame = pl.concat(
        [
            _gather(state.customers.select("customer_id", "customer_name", "account_name", "partner_id",
                                           "partner_name"), lines.customer),
            _gather(catalog.offers.select("service_type_code", "service_type_name", "resource_type_code",
                                          "resource_type_name", "product_id", "product_name", "spec_desc",
                                          "usage_type", "usage_unit"), lines.offer),
            _gather(regions, np.where(lines.region >= 0, lines.region, regions.height - 1)),
            _gather(state.resources, lines.resource),
            pl.DataFrame({
                "bill_type": _text(BILL_TYPE_TEXT, lines.bill_type),
                "billing_mode": catalog.billing_mode[lines.offer],
                "trade_id": trade_ids,
                "original_order_id": lines.original_ids,
                "trade_time": format_times(lines.trade_time),
                "order_type": _text(ORDER_TYPE_TEXT_ALL, np.maximum(lines.order_type, 0), no_order_type),
                "period_num": pl.Series(lines.period_num).set(pl.Series(no_period), None),
                "period_unit": _text(("Month", "Year"), lines.period_is_year, no_period),
                "is_spot": _text(("N", "Y"), lines.is_spot),
                "discount_types": _text(DISCOUNT_TYPE_TEXT, lines.discount_code),
                "usage_units": pl.Series(lines.usage_units).set(pl.Series(no_usage), None),
                **{f"{name}_units": units for name, units in money_units.items()},
            }),
        ],
        how="horizontal",
    )
    has_usage = pl.col("usage_units").is_not_null()
    return frame.with_columns(
        pl.lit(month).alias("bill_cycle"),
        # Order and adjustment lines carry no usage, whatever their product's meter is.
        pl.when(has_usage).then(pl.col("usage_type")).alias("usage_type"),
        pl.when(has_usage).then(pl.col("usage_unit")).alias("usage_unit"),
        units_to_decimal(pl.col("usage_units")).alias("usage_amount"),
        *(units_to_decimal(pl.col(f"{name}_units")).alias(name) for name in MONEY_COLUMNS),
    ).select(BILL_LINE_COLUMNS)
