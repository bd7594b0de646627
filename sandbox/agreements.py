"""The partner's own agreements (docs/formats.md#customer-discounts): the discounts it grants its customers and the
rebate rates of HUAWEI CLOUD's partner programme."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import polars as pl

from .catalog import SERVICES, SUBSCRIPTION_OFFERS, USAGE_OFFERS
from .discounts import CONTRACT_RATES, DISCOUNT_FORBIDDEN, MIN_CONTRACT_RATE
from .formats import CUSTOMER_DISCOUNT_COLUMNS, INCENTIVE_RATE_COLUMNS


def _max_rate(key: tuple[str, str, str]) -> int:
    """Highest rate (in 1e-4) a rule may grant: strictly below HUAWEI CLOUD's contract discount on
    everything it covers, so that in a clean world every line is billed to the customer above its
    cost and DISCOUNT.NEGATIVE_MARGIN stays silent (docs/reconciliation.md). A rule naming a
    service is capped by that service's rate, a broad rule by the lowest; services that allow no
    discount get none (their lines carry no HUAWEI discount to pass on)."""
    customer, service, resource = key
    if service in DISCOUNT_FORBIDDEN:
        return 0
    ceiling = CONTRACT_RATES.get(service, MIN_CONTRACT_RATE)
    if customer == "*":
        return ceiling // 2 if service != "*" else MIN_CONTRACT_RATE // 2
    if service == "*":
        return MIN_CONTRACT_RATE * 3 // 4
    return ceiling * 9 // 10 if resource != "*" else ceiling * 3 // 4


def _draw_rate(rng: np.random.Generator, key: tuple[str, str, str]) -> int:
    """A discount rate in 1e-4 for a rule `key`, in steps of 0.25 % as sales teams quote them."""
    return int(rng.integers(0, _max_rate(key) // 25 + 1)) * 25


def _rate_text(rate_1e4: int) -> str:
    return f"{rate_1e4 / 10_000:.4f}"


def make_customer_discounts(
    rng: np.random.Generator,
    customer_ids: list[str],
    world_begin: dt.date,
    world_end: dt.date,
) -> pl.DataFrame:
    """Discount rules at every specificity; some keys change rate on a date inside the world.

    Each key (customer, service, resource type) is one chain of versions: a version ends the day
    before the next one starts, so rules of equal specificity never overlap, and the last version
    of every key stays open, so no customer's terms expire while it still buys (AGREEMENT.EXPIRED).

    Services that allow no discount (savings plans) are sold at list price: a `*` rule for each
    of them at rate 0, and the same for every customer with a customer-wide rule, which would
    otherwise outrank the `*` rule (docs/formats.md#customer-discounts)."""
    services = [code for code, _, _ in SERVICES if code not in DISCOUNT_FORBIDDEN]
    resource_types = sorted({(o.service, o.resource_type) for o in (*USAGE_OFFERS, *SUBSCRIPTION_OFFERS)
                             if o.service not in DISCOUNT_FORBIDDEN})
    keys: list[tuple[str, str, str]] = [("*", "*", "*")]
    keys += [("*", code, "*") for code in rng.choice(services, size=4, replace=False)]
    for customer in customer_ids:
        roll = rng.random(3)
        if roll[0] < 0.35:
            keys.append((customer, "*", "*"))
        if roll[1] < 0.2:
            keys.append((customer, str(rng.choice(services)), "*"))
        if roll[2] < 0.1:
            service, resource_type = resource_types[rng.integers(len(resource_types))]
            keys.append((customer, service, resource_type))

    span_days = (world_end - world_begin).days
    rules_begin = dt.date(world_begin.year - 1, 1, 1)  # every line of the world matches some rule
    rows = []
    for key_index, key in enumerate(keys):
        # The default rule never changes; about a third of the others do, on a day inside the world.
        changes = key_index > 0 and (key_index == 1 or rng.random() < 0.33)
        first_rate = _draw_rate(rng, key)
        if changes:
            change_day = world_begin + dt.timedelta(days=int(rng.integers(5, max(span_days - 5, 6))))
            second_rate = _draw_rate(rng, key)
            rows.append((*key, _rate_text(first_rate), rules_begin, change_day - dt.timedelta(days=1)))
            rows.append((*key, _rate_text(second_rate), change_day, None))
        else:
            rows.append((*key, _rate_text(first_rate), rules_begin, None))
    list_price_owners = ["*", *(customer for customer, service, _ in keys if customer != "*" and service == "*")]
    for customer in list_price_owners:
        for service in sorted(DISCOUNT_FORBIDDEN):
            rows.append((customer, service, "*", _rate_text(0), rules_begin, None))
    frame = pl.DataFrame(rows, schema={
        "customer_id": pl.String, "service_type_code": pl.String, "resource_type_code": pl.String,
        "discount_rate": pl.String, "valid_from": pl.Date, "valid_to": pl.Date,
    }, orient="row")
    return frame.with_columns(pl.col("discount_rate").cast(pl.Decimal(9, 4))).select(CUSTOMER_DISCOUNT_COLUMNS)


def make_incentive_rates(world_begin: dt.date, change_day: dt.date | None) -> pl.DataFrame:
    """Monthly rebate rates by incentive policy (0/1 rebate, 13 performance only, 2 none); the rate
    of the specific-product tier (policy 1) changes at `change_day` when one is given.

    Only the monthly rebate is listed: it is what the monthly statement pays and what the pipeline
    reconciles each month; a quarterly rate would call for statement lines no monthly statement has."""
    year_begin = dt.date(world_begin.year, 1, 1)
    rows: list[tuple] = [("Monthly rebate", 0, "0.0500", year_begin, None)]
    if change_day is not None:
        rows += [("Monthly rebate", 1, "0.0800", year_begin, change_day - dt.timedelta(days=1)),
                 ("Monthly rebate", 1, "0.0900", change_day, None)]
    else:
        rows += [("Monthly rebate", 1, "0.0800", year_begin, None)]
    rows += [
        ("Monthly rebate", 13, "0.0000", year_begin, None),
        ("Monthly rebate", 2, "0.0000", year_begin, None),
    ]
    frame = pl.DataFrame(rows, schema={
        "incentive_type": pl.String, "policy_code": pl.Int64, "rate": pl.String,
        "valid_from": pl.Date, "valid_to": pl.Date,
    }, orient="row")
    return frame.with_columns(pl.col("rate").cast(pl.Decimal(9, 4))).select(INCENTIVE_RATE_COLUMNS)


class AgreedRates:
    """The rate the partner bills a customer's line at: the most specific rule of
    agreements/customer_discounts.csv valid on the line's GMT+8 trade date (docs/formats.md#customer-discounts:
    customer+resource > customer+service > customer > *+service > *; between overlapping rules of
    one key, the later valid_from wins). Used to compute what planted anomalies do to margins."""

    def __init__(self, rules: pl.DataFrame):
        self._versions: dict[tuple[str, str, str], list[tuple[dt.date, dt.date | None, Decimal]]] = {}
        for row in rules.iter_rows(named=True):
            key = (row["customer_id"], row["service_type_code"], row["resource_type_code"])
            self._versions.setdefault(key, []).append((row["valid_from"], row["valid_to"],
                                                       Decimal(row["discount_rate"])))
        for versions in self._versions.values():
            versions.sort(key=lambda version: version[0], reverse=True)

    def rate(self, customer_id: str, service: str, resource_type: str | None, day: dt.date) -> Decimal | None:
        """The agreed rate of a line, or None when no rule matches."""
        resource = resource_type or "*"
        for key in ((customer_id, service, resource), (customer_id, service, "*"), (customer_id, "*", "*"),
                    ("*", service, resource), ("*", service, "*"), ("*", "*", "*")):
            for valid_from, valid_to, rate in self._versions.get(key, ()):
                if valid_from <= day and (valid_to is None or day <= valid_to):
                    return rate
        return None
