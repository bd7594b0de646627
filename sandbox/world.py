"""The synthetic partner world: a HUAWEI CLOUD distributor, its resellers and resale customers,
their resources, orders and bills, generated deterministically from a seed.

`generate_world` decides everything world-wide (customers, resources, subscriptions, the order
book, agreements) at once; the bill lines of a month are built from that state on first access,
with a random stream of their own, so any month can be rebuilt identically and a 10-million-line
world never has to sit in memory whole.

With `WorldConfig(anomalies=K)` the world also plants K anomalies of every kind of
docs/reconciliation.md (sandbox/anomalies.py). Planting builds and keeps every closed month and
the API data it changes, so it is meant for test-sized worlds; `World.ground_truth` lists what was
planted.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import polars as pl

from .agreements import make_customer_discounts, make_incentive_rates
from .anomalies import PlantedAnomaly, ground_truth_records, plant_anomalies
from .api_data import ApiData
from .catalog import Catalog, build_catalog
from .discounts import make_contract_discounts
from .formats import LANGUAGES
from .incentives import build_statement, statement_status
from .lines import WorldState, build_month_lines
from .money import LineAmounts, units_to_decimal
from .months import add_months, date_of, days_in_month, format_times, month_start, parse_month
from .orders import ORDER_TYPE_TEXT, UNSUBSCRIBE, make_order_book
from .parties import make_customers, make_resellers
from .resources import Subscriptions, make_subscriptions, make_usage_resources
from .usage import CORRECTION_STREAM, UsageExportSeries, export_date_text

# Stream numbers of the world-level random generators (seeded by [seed, stream]); 5 is retired
# (it drew customer-specific contract rates, which the world no longer has).
_PARTIES, _USAGE_RESOURCES, _SUBSCRIPTIONS, _ORDERS, _AGREEMENTS = 1, 2, 3, 4, 6

# The months a world can span, its open month included: its files date their tar members (ustar
# mtimes: seconds since 1970 in eleven octal digits, which run out on 2242-03-16), and the open month's
# usage exports are dated up to its last day.
FIRST_WORLD_MONTH = "1970-01"
LAST_WORLD_MONTH = "2242-02"

_ORDER_SHARE = 0.05          # share of a month's lines that are orders and refunds
_ADJUSTMENT_SHARE = 0.002


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 7
    customers: int = 40             # resale customers
    resellers: int = 3              # resellers (indirect partners) of the distributor; 0 = a plain CSP
    closed_months: int = 3          # months with a monthly partner bill file
    lines_per_month: int = 2000     # approximate bill lines per closed month
    first_month: str = "2026-08"    # first closed month, YYYY-MM; the open month follows the last closed one
    header_language: str = "en"     # "en" or "zh": which header names the files carry
    usage_export_days: int = 5      # daily cumulative usage exports of the open month (dated the 2nd, 3rd, …)
    closing_month_exports: int = 1  # exports of the last closed month made early in the open month (0–4)
    member_rows: int = 100_000      # max data rows per CSV member
    partner_id: str = "5c0f3a8e9d2b4c71a6e8f0b2d4c6e8a1"
    partner_name: str = "Skyline Cloud Distribution Ltd"
    bill_type_language: str = "en"  # "zh" writes bill types as 消费/退款/调账 (docs/formats.md#enumerations)
    utf8_bom: bool = False          # start every CSV member with a UTF-8 byte-order mark
    anomalies: int = 0              # plant this many of each kind of anomaly (sandbox/anomalies.py)
    # The first closed months that came before the partner's warehouse: their orders, refunds and API
    # records exist, but no bill file and no incentive statement is written for them. Later refunds
    # of their orders test the look-up of original orders in the API and the fallback.
    history_months: int = 0

    def __post_init__(self) -> None:
        parse_month(self.first_month)
        if self.customers < 1 or self.closed_months < 1 or self.lines_per_month < 1:
            raise ValueError("customers, closed_months and lines_per_month must be at least 1")
        if not FIRST_WORLD_MONTH <= self.first_month <= add_months(LAST_WORLD_MONTH, -self.closed_months):
            raise ValueError(f"the months of a world, the open one included, must lie from {FIRST_WORLD_MONTH} to "
                             f"{LAST_WORLD_MONTH}")
        if self.resellers < 0 or self.member_rows < 1:
            raise ValueError("resellers must be ≥ 0 and member_rows ≥ 1")
        if self.header_language not in LANGUAGES or self.bill_type_language not in LANGUAGES:
            raise ValueError(f"languages must be one of {LANGUAGES}")
        open_days = days_in_month(add_months(self.first_month, self.closed_months))
        if not 0 <= self.usage_export_days <= open_days - 1:
            raise ValueError(f"usage_export_days must be between 0 and {open_days - 1}")
        if not 0 <= self.closing_month_exports <= 4:
            raise ValueError("closing_month_exports must be between 0 and 4")
        if self.anomalies < 0:
            raise ValueError("anomalies must be ≥ 0")
        if not 0 <= self.history_months < self.closed_months:
            raise ValueError("history_months must be ≥ 0 and leave at least one closed month with a bill file")
        if self.history_months and self.anomalies:
            raise ValueError("anomalies are planted in every closed month: "
                             "plant them in a world without history_months")


K = TypeVar("K", bound=Hashable)


class LazyFrames(Mapping[K, pl.DataFrame]):
    """A read-only mapping whose frames are built on first access and then kept.

    `build(key)` returns a fresh frame without keeping it: writers use it to stream a large world
    one month at a time."""

    def __init__(self, keys: list[K], build: Callable[[K], pl.DataFrame]):
        self._keys = list(keys)
        self._build = build
        self._cache: dict[K, pl.DataFrame] = {}

    def __getitem__(self, key: K) -> pl.DataFrame:
        if key not in self._cache:
            if key not in self._keys:
                raise KeyError(key)
            self._cache[key] = self._build(key)
        return self._cache[key]

    def build(self, key: K) -> pl.DataFrame:
        if key in self._cache:
            return self._cache[key]
        if key not in self._keys:
            raise KeyError(key)
        return self._build(key)

    def replace(self, key: K, frame: pl.DataFrame) -> None:
        """Keep `frame` as the frame of `key` from now on (how planted anomalies change a month)."""
        if key not in self._keys:
            raise KeyError(key)
        self._cache[key] = frame

    def restricted(self, keys: list[K]) -> LazyFrames[K]:
        """A view on some of the keys that shares this mapping's builder and kept frames."""
        view = LazyFrames(keys, self._build)
        view._cache = self._cache
        return view

    def __iter__(self) -> Iterator[K]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"LazyFrames({self._keys!r}, built={list(self._cache)!r})"


@dataclass
class World:
    """A generated world. Frames use the canonical column names of docs/formats.md; money is
    Decimal(20,8); times are GMT+8 strings like the files'."""

    config: WorldConfig
    partner_id: str
    partner_name: str
    customers: pl.DataFrame          # customer_id, customer_name, account_name, partner_id, partner_name,
    #                                  association_type, indirect_partner_id, associated_on, home_region_code,
    #                                  payment_method, spend_weight
    resellers: pl.DataFrame          # reseller_id, reseller_name, account_name
    closed_months: list[str]
    open_month: str
    bill_lines: LazyFrames[str]      # closed month → bill lines (docs/formats.md#bill-line-columns, in order)
    usage_exports: LazyFrames[tuple[str, str]]   # (data month, export date YYYYMMDD) → usage columns
    customer_discounts: pl.DataFrame  # docs/formats.md#customer-discounts
    incentive_rates: pl.DataFrame     # docs/formats.md#incentive-rates
    products: pl.DataFrame           # the catalogue: one row per offer
    regions: pl.DataFrame            # region_code, region_name, price_factor
    services: pl.DataFrame           # service_type_code, service_type_name, incentive_policy
    contract_discounts: pl.DataFrame  # HUAWEI-side 605 discounts: customer_id ('*': partner-wide), service, rate
    resources: pl.DataFrame          # every resource: id, name, owner, how it is billed, lifetime
    month_lines: LazyFrames[str] = field(repr=False)  # every month incl. the open one (its full month)
    _state: WorldState = field(repr=False, default=None)
    planted: list[PlantedAnomaly] = field(default_factory=list)  # what generate_world planted
    _statements: dict[str, pl.DataFrame] = field(repr=False, default_factory=dict)

    @property
    def months(self) -> list[str]:
        """Closed months, then the open month."""
        return [*self.closed_months, self.open_month]

    @property
    def billed_months(self) -> list[str]:
        """The closed months whose bill file (and incentive statement) is written: all but the
        `history_months` first ones."""
        return self.closed_months[self.config.history_months:]

    @functools.cached_property
    def orders(self) -> pl.DataFrame:
        """Every yearly/monthly, RI and savings-plan order of the world (New, Renew, Change,
        Unsubscribe), with the refunded order of each unsubscription and the order's amounts."""
        return _orders_frame(self._state)

    @functools.cached_property
    def api_data(self) -> ApiData:
        """What the BSS partner API knows about this world (sandbox/api_data.py): the records the
        emulator serves, built per dataset on first use."""
        return ApiData(self)

    @property
    def ground_truth(self) -> list[dict]:
        """The planted anomalies as docs/reconciliation.md lists them: one record per expected
        finding, `{"rule_id", "bill_cycle", "customer_id", "reference", "amount"}` (amount a
        string with 2 decimals, or None), in a stable order. Empty for a world without plants."""
        return ground_truth_records(self.planted)

    def incentive_statement(self, month: str, lines: pl.DataFrame | None = None) -> pl.DataFrame:
        """The incentive statement of closed `month` (docs/formats.md#incentive-statement), planted changes included.
        `lines`, when given, must be the month's bill lines: it saves building them again."""
        if month not in self.closed_months:
            raise KeyError(month)
        if month not in self._statements:
            lines = self.bill_lines.build(month) if lines is None else lines
            self._statements[month] = build_statement(
                month, lines, self.services, self.incentive_rates, statement_status(month, self.closed_months))
        return self._statements[month]

    def usage_export_series(self, month: str) -> UsageExportSeries:
        """All usage exports of `month` computed together (cheaper than one key at a time)."""
        days = _export_days(self.config, month)
        if not days:
            raise KeyError(month)
        index = self.months.index(month)
        rng = np.random.default_rng([self.config.seed, CORRECTION_STREAM, index])
        return UsageExportSeries(self.month_lines.build(month), days, rng)


def generate_world(cfg: WorldConfig = WorldConfig()) -> World:
    """Build the world of `cfg`. Cheap: bill lines are built per month on first access."""
    catalog = build_catalog()
    closed = [add_months(cfg.first_month, i) for i in range(cfg.closed_months)]
    open_month = add_months(cfg.first_month, cfg.closed_months)
    months = [*closed, open_month]
    month_starts = np.array([month_start(m) for m in months] + [month_start(add_months(open_month, 1))],
                            dtype=np.int64)
    world_begin = date_of(int(month_starts[0]))
    world_end = date_of(int(month_starts[-1]) - 1)

    rng_parties = np.random.default_rng([cfg.seed, _PARTIES])
    resellers = make_resellers(rng_parties, cfg.resellers)
    region_codes = catalog.regions["region_code"].to_list()
    customers = make_customers(rng_parties, cfg.customers, cfg.partner_id, cfg.partner_name, resellers,
                               world_begin, catalog.region_weight, region_codes)
    spend_weight = customers["spend_weight"].to_numpy()
    home_region = customers["home_region_code"].replace_strict(
        {code: i for i, code in enumerate(region_codes)}).to_numpy()
    pays_cash = (customers["payment_method"] == "cash").to_numpy()

    order_lines = max(6, round(_ORDER_SHARE * cfg.lines_per_month))
    adjustments = max(2, round(_ADJUSTMENT_SHARE * cfg.lines_per_month))
    usage_lines = max(1, cfg.lines_per_month - order_lines - adjustments)
    # Few lines per meter in small worlds (so there is variety), up to ~400 (a long-running meter) in large ones.
    mean_window = float(np.clip(usage_lines / (cfg.customers * 6), 3, 400))
    usage = make_usage_resources(np.random.default_rng([cfg.seed, _USAGE_RESOURCES]), catalog,
                                 int(np.ceil(usage_lines / mean_window)), len(closed), spend_weight, home_region)
    subs = _subscriptions_for(np.random.default_rng([cfg.seed, _SUBSCRIPTIONS]), catalog, order_lines,
                              len(months), spend_weight, home_region)
    contract_table, contract_rate = make_contract_discounts()
    book = make_order_book(np.random.default_rng([cfg.seed, _ORDERS]), catalog, subs, month_starts,
                           contract_rate, pays_cash)

    state = WorldState(
        seed=cfg.seed, catalog=catalog, months=months, month_starts=month_starts, customers=customers,
        pays_cash=pays_cash, usage=usage, subscriptions=subs, orders=book, contract_rate=contract_rate,
        resources=pl.concat([usage.table.select("resource_id", "resource_name"),
                             subs.table.select("resource_id", "resource_name")]),
        usage_lines_per_month=usage_lines, adjustments_per_month=adjustments,
    )
    rng_agreements = np.random.default_rng([cfg.seed, _AGREEMENTS])
    month_lines = LazyFrames(months, lambda m: build_month_lines(state, months.index(m)))
    world = World(
        config=cfg,
        partner_id=cfg.partner_id,
        partner_name=cfg.partner_name,
        customers=customers,
        resellers=resellers,
        closed_months=closed,
        open_month=open_month,
        bill_lines=month_lines.restricted(closed),
        usage_exports=None,  # set below: it needs the world
        customer_discounts=make_customer_discounts(rng_agreements, customers["customer_id"].to_list(),
                                                   world_begin, world_end),
        incentive_rates=make_incentive_rates(
            world_begin, date_of(int(month_starts[1])) if len(closed) > 1 else None),
        products=catalog.offers,
        regions=catalog.regions,
        services=catalog.services,
        contract_discounts=contract_table,
        resources=_resources_frame(state, months),
        month_lines=month_lines,
        _state=state,
    )
    series_by_month: dict[str, UsageExportSeries] = {}

    def one_export(key: tuple[str, str]) -> pl.DataFrame:
        month, date = key
        if month not in series_by_month:
            series_by_month[month] = world.usage_export_series(month)
        series = series_by_month[month]
        return series.export(series.export_dates.index(date))

    keys = [(m, export_date_text(day)) for m in months for day in _export_days(cfg, m)]
    world.usage_exports = LazyFrames(keys, one_export)
    if cfg.anomalies:
        world.planted = plant_anomalies(world, cfg.anomalies)
    return world


def iter_usage_exports(world: World) -> Iterator[tuple[tuple[str, str], pl.DataFrame]]:
    """Every usage export, computing each data month's lines once and keeping none of them."""
    for month in world.months:
        if not _export_days(world.config, month):
            continue
        series = world.usage_export_series(month)
        for index, date in enumerate(series.export_dates):
            yield (month, date), series.export(index)


def _export_days(cfg: WorldConfig, month: str) -> list[dt.date]:
    """Export dates of a data month: the open month's from its 2nd day on; the last closed month's
    on the first days of the open month (the 1st exports only the previous month:
    docs/formats.md#keys-and-delivery-times)."""
    open_month = add_months(cfg.first_month, cfg.closed_months)
    open_first = date_of(month_start(open_month))
    if month == open_month:
        return [open_first + dt.timedelta(days=1 + i) for i in range(cfg.usage_export_days)]
    if month == add_months(open_month, -1):
        return [open_first + dt.timedelta(days=i) for i in range(cfg.closing_month_exports)]
    return []


def _subscriptions_for(rng: np.random.Generator, catalog: Catalog, order_lines: int, month_count: int,
                       spend_weight: np.ndarray, home_region: np.ndarray) -> Subscriptions:
    """Just enough subscriptions for about `order_lines` New/Renew orders a month."""
    candidates = make_subscriptions(rng, catalog, int(order_lines * 2.5) + spend_weight.size, month_count - 1,
                                    spend_weight, home_region)
    months = np.arange(month_count)
    since_start = months[None, :] - candidates.start_month[:, None]
    orders = ((since_start >= 0) & (since_start % candidates.period_in_months[:, None] == 0)).sum(axis=1)
    keep = int(np.searchsorted(np.cumsum(orders), order_lines * month_count)) + 1
    keep = max(keep, min(spend_weight.size, candidates.customer.size))
    return candidates.head(keep)


def _resources_frame(state: WorldState, months: list[str]) -> pl.DataFrame:
    catalog, usage, subs = state.catalog, state.usage, state.subscriptions
    region_codes = pl.Series([*catalog.regions["region_code"].to_list(), None], dtype=pl.String)
    month_names = pl.Series(months)
    customer_ids = state.customers["customer_id"]
    pay_per_use = pl.DataFrame({
        "resource_id": usage.table["resource_id"],
        "resource_name": usage.table["resource_name"],
        "customer_id": customer_ids.gather(usage.customer),
        "billing": "pay_per_use",
        "product_key": usage.table["template"],
        "region_code": region_codes.gather(np.where(usage.region >= 0, usage.region, -1)),
        "size": usage.size,
        "is_spot": usage.is_spot,
        "active_from": month_names.gather(usage.first_month),
        "active_to": month_names.gather(usage.last_month),
        "period_num": pl.Series([None] * usage.customer.size, dtype=pl.Int64),
        "period_unit": pl.Series([None] * usage.customer.size, dtype=pl.String),
    })
    subscribed = pl.DataFrame({
        "resource_id": subs.table["resource_id"],
        "resource_name": subs.table["resource_name"],
        "customer_id": customer_ids.gather(subs.customer),
        "billing": "subscription",
        "product_key": subs.table["offer_key"],
        "region_code": region_codes.gather(np.where(subs.region >= 0, subs.region, -1)),
        "size": subs.size,
        "is_spot": np.zeros(subs.customer.size, dtype=bool),
        "active_from": pl.Series([None] * subs.customer.size, dtype=pl.String),
        "active_to": pl.Series([None] * subs.customer.size, dtype=pl.String),
        "period_num": subs.period_num,
        "period_unit": subs.table["period_unit"],
    })
    return pl.concat([pay_per_use, subscribed])


def _orders_frame(state: WorldState) -> pl.DataFrame:
    book, subs = state.orders, state.subscriptions
    amounts: LineAmounts = book.amounts
    is_refund = book.order_type == UNSUBSCRIBE
    original_ids = book.order_id.gather(np.where(is_refund, book.original, 0)).set(pl.Series(~is_refund), None)
    frame = pl.DataFrame({
        "order_id": book.order_id,
        "bill_cycle": pl.Series(state.months).gather(book.month),
        "customer_id": state.customers["customer_id"].gather(subs.customer[book.subscription]),
        "resource_id": subs.table["resource_id"].gather(book.subscription),
        "product_key": subs.table["offer_key"].gather(book.subscription),
        "billing_mode": state.catalog.billing_mode[subs.offer[book.subscription]],
        "order_type": pl.Series(ORDER_TYPE_TEXT).gather(book.order_type),
        "trade_time": format_times(book.trade_time),
        "period_num": pl.Series(subs.period_num[book.subscription]).set(pl.Series(is_refund), None),
        "period_unit": subs.table["period_unit"].gather(book.subscription).set(pl.Series(is_refund), None),
        "original_order_id": original_ids,
        "official_amount": amounts.official,
        "discount_amount": amounts.discount,
        "truncated_amount": amounts.truncated,
        "amount_due": amounts.due,
    })
    money = ("official_amount", "discount_amount", "truncated_amount", "amount_due")
    return frame.with_columns(units_to_decimal(pl.col(c)).alias(c) for c in money).sort("trade_time", "order_id")
