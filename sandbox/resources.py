"""What customers own: pay-per-use resources (with their meters) and subscriptions (yearly/monthly,
RI and savings-plan resources bought by order), with their lifetimes across the world's months.

Month indices: 0 is the first closed month, `open_index` the open month; negative indices are months
before the world (a subscription bought two years ago renews inside the world).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from .catalog import RESOURCE_TEMPLATES, SUBSCRIPTION_OFFERS, USAGE_OFFERS, Catalog
from .ids import hex_ids, uuids, zero_padded

_ROLES = ("web", "api", "db", "batch", "cache", "dev", "test", "prod", "app", "worker", "report", "etl")


@dataclass
class UsageResources:
    """Pay-per-use resources (rows of `table`) and their meter instances (one per resource × meter)."""

    table: pl.DataFrame          # resource_id, resource_name, customer_index, template, region_index, size, is_spot,
    #                              first_month, last_month
    customer: np.ndarray         # per resource
    region: np.ndarray           # per resource, -1 for global services
    size: np.ndarray             # per resource (GB, Mbit/s) for sized meters
    is_spot: np.ndarray
    first_month: np.ndarray
    last_month: np.ndarray
    meter_resource: np.ndarray   # per meter instance: resource row
    meter_offer: np.ndarray      # per meter instance: offer index
    meter_scale: np.ndarray      # per meter instance: relative size of its usage (lognormal)


@dataclass
class Subscriptions:
    """Resources bought by order. Row i of every array is subscription i."""

    table: pl.DataFrame          # resource_id, resource_name, customer_index, offer_index, region_index, ...
    customer: np.ndarray
    offer: np.ndarray
    region: np.ndarray
    size: np.ndarray
    period_in_months: np.ndarray  # 1, 3, 6, 12, 24, 36
    period_num: np.ndarray
    period_is_year: np.ndarray
    start_month: np.ndarray       # month index of the New order (may be negative)
    anchor_seconds: np.ndarray    # offset of the order time inside its month (day ≤ 28)

    def head(self, count: int) -> Subscriptions:
        """The first `count` subscriptions."""
        arrays = (getattr(self, f.name)[:count] for f in fields(self) if f.name != "table")
        return Subscriptions(self.table.head(count), *arrays)


def _resource_names(rng: np.random.Generator, prefixes: pl.Series) -> pl.Series:
    """Names such as `ecs-web-7f3a` built without a per-row Python loop."""
    count = prefixes.len()
    roles = pl.Series(_ROLES).gather(rng.integers(0, len(_ROLES), size=count))
    suffix = hex_ids(rng, count, 4)
    return pl.select(pl.concat_str([prefixes, roles, suffix], separator="-")).to_series()


def _pick_customers(rng: np.random.Generator, count: int, spend_weight: np.ndarray) -> np.ndarray:
    """Customers for `count` new things, proportional to spend; the first ones cover every customer once."""
    probabilities = spend_weight / spend_weight.sum()
    picked = rng.choice(spend_weight.size, size=count, p=probabilities)
    covered = min(count, spend_weight.size)
    picked[:covered] = np.arange(covered)
    return picked


def _pick_regions(rng: np.random.Generator, customer: np.ndarray, home_region: np.ndarray,
                  region_weight: np.ndarray) -> np.ndarray:
    """Mostly the customer's home region, sometimes another one."""
    elsewhere = rng.choice(region_weight.size, size=customer.size, p=region_weight)
    return np.where(rng.random(customer.size) < 0.8, home_region[customer], elsewhere)


def make_usage_resources(
    rng: np.random.Generator,
    catalog: Catalog,
    meter_instances: int,
    open_index: int,
    spend_weight: np.ndarray,
    home_region: np.ndarray,
) -> UsageResources:
    template_weight = np.array([t.weight for t in RESOURCE_TEMPLATES])
    meters_per_template = np.array([len(t.meters) for t in RESOURCE_TEMPLATES])
    mean_meters = (template_weight * meters_per_template).sum() / template_weight.sum()
    count = max(1, int(np.ceil(meter_instances / mean_meters)))

    template = rng.choice(len(RESOURCE_TEMPLATES), size=count, p=template_weight / template_weight.sum())
    # Right after one resource per customer, one resource of every template, kept all through the
    # world: every service and billing mode then has lines each month (the reconciliation rules, and
    # the anomalies planted against them, need each kind, savings plans included).
    first_showcase = min(count, spend_weight.size)
    showcase = np.arange(first_showcase, min(count, first_showcase + len(RESOURCE_TEMPLATES)))
    template[showcase] = np.arange(showcase.size)
    customer = _pick_customers(rng, count, spend_weight)
    region = _pick_regions(rng, customer, home_region, catalog.region_weight)
    first_offer = np.array([catalog.usage_offer_index[t.meters[0]] for t in RESOURCE_TEMPLATES])[template]
    region = np.where(catalog.is_global[first_offer], -1, region)

    size_choices = {offer.key: offer.sizes for offer in USAGE_OFFERS}
    size = np.ones(count)
    for t_index, t in enumerate(RESOURCE_TEMPLATES):  # per template (a dozen), not per resource
        sizes = next((size_choices[m] for m in t.meters if len(size_choices[m]) > 1), None)
        chosen = template == t_index
        if sizes is not None and chosen.any():
            size[chosen] = rng.choice(np.array(sizes, dtype=float), size=int(chosen.sum()))
    spot_share = np.array([t.spot_share for t in RESOURCE_TEMPLATES])[template]
    is_spot = rng.random(count) < spot_share

    # Lifetimes: most resources live through the whole world, some appear or disappear on the way.
    first_month = np.where(rng.random(count) < 0.75, 0, rng.integers(0, open_index + 1, size=count))
    ends_early = (rng.random(count) < 0.15) & (first_month < open_index)
    last_month = np.where(ends_early, rng.integers(first_month, open_index + 1), open_index)
    # Every customer keeps one resource, and the showcase resources stay too.
    always_on = np.arange(count) < first_showcase + showcase.size
    first_month[always_on], last_month[always_on] = 0, open_index

    prefixes = pl.Series([t.name_prefix for t in RESOURCE_TEMPLATES]).gather(template)
    names = _resource_names(rng, prefixes)
    ids = uuids(rng, count)
    # OBS identifies a bucket by its name, which must be unique: the row number makes it so.
    is_bucket = prefixes == "bucket"
    names = pl.select(pl.when(is_bucket).then(pl.concat_str([names, zero_padded(np.arange(count), 6)],
                                                            separator="-")).otherwise(names)).to_series()
    ids = pl.select(pl.when(is_bucket).then(names).otherwise(ids)).to_series()
    if count > 2:
        # User-typed names can hold anything a CSV must quote: a comma, a quote, a line break.
        names = names.scatter([1, 2], ["backup, weekly\nretention 30d", 'web "blue" pool'])

    meter_resource = np.repeat(np.arange(count), meters_per_template[template])
    meter_offer = _meter_offers(catalog, template)
    meter_scale = rng.lognormal(0.0, 0.8, size=meter_resource.size) * spend_weight[customer][meter_resource] ** 0.3

    table = pl.DataFrame({
        "resource_id": ids,
        "resource_name": names,
        "customer_index": customer,
        "template": pl.Series([RESOURCE_TEMPLATES[t].key for t in range(len(RESOURCE_TEMPLATES))]).gather(template),
        "region_index": region,
        "size": size,
        "is_spot": is_spot,
        "first_month": first_month,
        "last_month": last_month,
    })
    return UsageResources(table, customer, region, size, is_spot, first_month, last_month,
                          meter_resource, meter_offer, meter_scale)


def _meter_offers(catalog: Catalog, template: np.ndarray) -> np.ndarray:
    """Offer index of every meter instance, in the order of np.repeat over resources."""
    offsets = np.zeros(len(RESOURCE_TEMPLATES) + 1, dtype=np.int64)
    flat = []
    for t_index, t in enumerate(RESOURCE_TEMPLATES):
        flat.extend(catalog.usage_offer_index[m] for m in t.meters)
        offsets[t_index + 1] = len(flat)
    flat_offers = np.array(flat, dtype=np.int64)
    counts = offsets[1:][template] - offsets[:-1][template]
    starts = np.repeat(offsets[:-1][template], counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return flat_offers[starts + within]


def make_subscriptions(
    rng: np.random.Generator,
    catalog: Catalog,
    count: int,
    open_index: int,
    spend_weight: np.ndarray,
    home_region: np.ndarray,
) -> Subscriptions:
    offer_weight = np.array([o.weight for o in SUBSCRIPTION_OFFERS])
    local_offer = rng.choice(len(SUBSCRIPTION_OFFERS), size=count, p=offer_weight / offer_weight.sum())
    offer = np.array([catalog.subscription_offer_index[o.key] for o in SUBSCRIPTION_OFFERS])[local_offer]
    customer = _pick_customers(rng, count, spend_weight)
    region = _pick_regions(rng, customer, home_region, catalog.region_weight)
    region = np.where(catalog.is_global[offer], -1, region)

    size = np.ones(count)
    for o_index, o in enumerate(SUBSCRIPTION_OFFERS):
        chosen = local_offer == o_index
        if len(o.sizes) > 1 and chosen.any():
            size[chosen] = rng.choice(np.array(o.sizes, dtype=float), size=int(chosen.sum()))

    yearly_only = np.array([o.yearly_only for o in SUBSCRIPTION_OFFERS])[local_offer]
    period_is_year = yearly_only | (rng.random(count) < 0.25)
    monthly_num = rng.choice(np.array([1, 3, 6]), size=count, p=[0.7, 0.2, 0.1])
    yearly_num = rng.choice(np.array([1, 2, 3]), size=count, p=[0.8, 0.1, 0.1])
    yearly_num = np.where(yearly_only, 1, yearly_num)
    period_num = np.where(period_is_year, yearly_num, monthly_num)
    period_in_months = np.where(period_is_year, 12 * period_num, period_num)
    # A quarter of the subscriptions start inside the world, the rest were bought up to 3 years
    # earlier. Yearly-only RI and savings plans start inside more often, so the world shows some.
    starts_inside = rng.random(count) < np.where(yearly_only, 0.6, 0.25)
    start_month = np.where(starts_inside, rng.integers(0, open_index + 1, size=count),
                           rng.integers(-36, 0, size=count))
    anchor_seconds = rng.integers(0, 28 * 86400, size=count)

    prefixes = pl.Series([o.name_prefix for o in SUBSCRIPTION_OFFERS]).gather(local_offer)
    table = pl.DataFrame({
        "resource_id": uuids(rng, count),
        "resource_name": _resource_names(rng, prefixes),
        "customer_index": customer,
        "offer_key": pl.Series([o.key for o in SUBSCRIPTION_OFFERS]).gather(local_offer),
        "region_index": region,
        "size": size,
        "period_num": period_num,
        "period_unit": np.where(period_is_year, "Year", "Month"),
        "start_month": start_month,
    })
    return Subscriptions(table, customer, offer, region, size, period_in_months, period_num, period_is_year,
                         start_month, anchor_seconds)
