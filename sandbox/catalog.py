"""The product catalogue of the synthetic world: regions, services, resource types and the offers
customers buy (pay-per-use meters and yearly/monthly, RI and savings-plan subscriptions).

Codes follow HUAWEI CLOUD's naming (`hws.service.type.*`, `hws.resource.type.*`, region codes of the
international site). Prices are plausible list prices in USD, not an official price list. The
savings-plan service and resource codes are synthetic: no public source gives the real ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

# (code, display name, price factor against the Hong Kong list price, share of resources)
REGIONS: tuple[tuple[str, str, float, float], ...] = (
    ("ap-southeast-1", "CN-Hong Kong", 1.00, 0.30),
    ("ap-southeast-3", "AP-Singapore", 1.00, 0.20),
    ("ap-southeast-2", "AP-Bangkok", 0.98, 0.14),
    ("ap-southeast-4", "AP-Jakarta", 1.05, 0.07),
    ("af-south-1", "AF-Johannesburg", 1.10, 0.08),
    ("la-south-2", "LA-Santiago", 1.15, 0.07),
    ("la-north-2", "LA-Mexico City2", 1.15, 0.05),
    ("sa-brazil-1", "LA-Sao Paulo1", 1.20, 0.04),
    ("tr-west-1", "TR-Istanbul", 1.10, 0.03),
    ("me-east-1", "ME-Riyadh", 1.12, 0.02),
)

# (code, name, incentive policy of ListIncentiveDiscountPolicies: 0/1 rebate, 13 performance only, 2 none)
SERVICES: tuple[tuple[str, str, int], ...] = (
    ("hws.service.type.ec2", "Elastic Cloud Server", 1),
    ("hws.service.type.ebs", "Elastic Volume Service", 0),
    ("hws.service.type.obs", "Object Storage Service", 0),
    ("hws.service.type.rds", "Relational Database Service", 1),
    ("hws.service.type.elb", "Elastic Load Balance", 0),
    ("hws.service.type.vpc", "Virtual Private Cloud", 13),
    ("hws.service.type.cdn", "Content Delivery Network", 0),
    ("hws.service.type.cce", "Cloud Container Engine", 1),
    ("hws.service.type.dcs", "Distributed Cache Service", 0),
    ("hws.service.type.sp", "Savings Plans", 2),
)

RESOURCE_TYPES: dict[str, str] = {
    "hws.resource.type.vm": "ECS",
    "hws.resource.type.volume": "EVS Disk",
    "hws.resource.type.obs": "OBS Bucket",
    "hws.resource.type.rds.vm": "RDS DB Instance",
    "hws.resource.type.rds.volume": "RDS Storage",
    "hws.resource.type.elb": "Load Balancer",
    "hws.resource.type.ip": "Elastic IP",
    "hws.resource.type.bandwidth": "Bandwidth",
    "hws.resource.type.cdn": "CDN Domain",
    "hws.resource.type.cce": "CCE Cluster",
    "hws.resource.type.dcs": "DCS Redis Instance",
    "hws.resource.type.sp": "Compute Savings Plan",
}

# Services whose lines carry no region (global services).
GLOBAL_SERVICES = frozenset({"hws.service.type.cdn", "hws.service.type.sp"})

# Billing-mode file codes (docs/formats.md#billing-mode-codes).
YEARLY_MONTHLY, PAY_PER_USE, RI_SUBSCRIPTION, RI_HOURLY, SP_SUBSCRIPTION, SP_HOURLY = 0, 1, 2, 3, 4, 5


@dataclass(frozen=True)
class UsageOffer:
    """A pay-per-use meter: one line per resource, usage type and period."""

    key: str
    service: str
    resource_type: str
    product_name: str
    spec_desc: str
    usage_type: str
    usage_unit: str
    unit_price: float          # USD per usage unit
    granularity: str           # "hour", "day" or "month" (one line per month, billed on the 1st)
    quantity: str              # "time": 1 unit per hour; "sized": size × hours; "volume": random amount
    sizes: tuple[float, ...] = (1.0,)
    volume_mean: float = 0.0   # mean usage per period for "volume" meters
    billing_mode: int = PAY_PER_USE


@dataclass(frozen=True)
class ResourceTemplate:
    """A kind of pay-per-use resource; all its meters share the resource ID."""

    key: str
    meters: tuple[str, ...]
    name_prefix: str
    weight: float
    spot_share: float = 0.0


@dataclass(frozen=True)
class SubscriptionOffer:
    """A yearly/monthly, RI or savings-plan product bought by order."""

    key: str
    service: str
    resource_type: str
    product_name: str
    spec_desc: str
    monthly_price: float       # USD per month per size unit
    billing_mode: int
    sizes: tuple[float, ...] = (1.0,)
    yearly_only: bool = False
    weight: float = 1.0
    name_prefix: str = "res"


def _ecs(flavor: str, vcpus: int, gib: int, os_name: str, hourly: float) -> UsageOffer:
    family = flavor.split(".")[0]
    return UsageOffer(
        key=f"ecs.{flavor}.{os_name.lower()}", service="hws.service.type.ec2",
        resource_type="hws.resource.type.vm",
        product_name=f"ECS {family} General Computing | {os_name}",
        spec_desc=f"{flavor} | {vcpus} vCPUs | {gib} GiB | {os_name}",
        usage_type="duration", usage_unit="Hour", unit_price=hourly, granularity="hour", quantity="time",
    )


_ECS_FLAVORS = (
    ("s6.large.2", 2, 4, "Linux", 0.0740),
    ("s6.xlarge.2", 4, 8, "Linux", 0.1480),
    ("c7.xlarge.2", 4, 8, "Linux", 0.1880),
    ("c7.2xlarge.4", 8, 32, "Linux", 0.4900),
    ("m7.4xlarge.8", 16, 128, "Linux", 1.5200),
    ("s6.large.2", 2, 4, "Windows", 0.1180),
    ("c7.xlarge.2", 4, 8, "Windows", 0.2760),
)

USAGE_OFFERS: tuple[UsageOffer, ...] = (
    *(_ecs(*flavor) for flavor in _ECS_FLAVORS),
    UsageOffer("evs.high_io", "hws.service.type.ebs", "hws.resource.type.volume", "EVS High I/O",
               "High I/O | SAS", "capacity", "GB-hour", 0.000166, "hour", "sized", (40, 100, 200, 500, 1000)),
    UsageOffer("evs.ultra_high_io", "hws.service.type.ebs", "hws.resource.type.volume", "EVS Ultra-high I/O",
               "Ultra-high I/O | SSD", "capacity", "GB-hour", 0.000222, "hour", "sized", (100, 200, 500, 2000)),
    UsageOffer("obs.storage", "hws.service.type.obs", "hws.resource.type.obs", "OBS Standard Storage",
               "Standard | Single-AZ", "storage", "GB-hour", 0.0000319, "day", "volume", volume_mean=24 * 800),
    UsageOffer("obs.downflow", "hws.service.type.obs", "hws.resource.type.obs", "OBS Internet Outbound Traffic",
               "Internet outbound", "downflow", "GB", 0.09, "day", "volume", volume_mean=35),
    UsageOffer("obs.requests", "hws.service.type.obs", "hws.resource.type.obs", "OBS Requests",
               "GET/HEAD requests", "request", "10,000 requests", 0.01, "day", "volume", volume_mean=60),
    UsageOffer("rds.mysql.small", "hws.service.type.rds", "hws.resource.type.rds.vm", "RDS for MySQL",
               "rds.mysql.n1.large.2 | 2 vCPUs | 4 GB | Single", "duration", "Hour", 0.1200, "hour", "time"),
    UsageOffer("rds.mysql.ha", "hws.service.type.rds", "hws.resource.type.rds.vm", "RDS for MySQL",
               "rds.mysql.n1.xlarge.4.ha | 4 vCPUs | 16 GB | Primary/Standby", "duration", "Hour", 0.5800,
               "hour", "time"),
    UsageOffer("rds.storage", "hws.service.type.rds", "hws.resource.type.rds.volume", "RDS Storage",
               "Ultra-high I/O", "capacity", "GB-hour", 0.000194, "hour", "sized", (40, 100, 250, 500)),
    UsageOffer("elb.dedicated", "hws.service.type.elb", "hws.resource.type.elb", "Dedicated Load Balancer",
               "Application load balancing (HTTP/HTTPS) | Small I", "duration", "Hour", 0.0360, "hour", "time"),
    UsageOffer("eip.ip", "hws.service.type.vpc", "hws.resource.type.ip", "Elastic IP",
               "Dynamic BGP", "duration", "Hour", 0.0050, "hour", "time"),
    UsageOffer("eip.bandwidth", "hws.service.type.vpc", "hws.resource.type.bandwidth", "Dedicated Bandwidth",
               "Dynamic BGP | Billed by bandwidth", "bandwidth", "Mbit/s-hour", 0.0300, "hour", "sized",
               (5, 10, 20, 50, 100)),
    UsageOffer("eip.traffic", "hws.service.type.vpc", "hws.resource.type.bandwidth", "Dedicated Bandwidth",
               "Dynamic BGP | Billed by traffic", "upflow", "GB", 0.1200, "hour", "volume", volume_mean=2.5),
    UsageOffer("cdn.traffic", "hws.service.type.cdn", "hws.resource.type.cdn", "CDN Traffic",
               "Outside Chinese mainland | Billed by traffic", "downflow", "GB", 0.0600, "day", "volume",
               volume_mean=120),
    UsageOffer("cdn.peak95", "hws.service.type.cdn", "hws.resource.type.cdn", "CDN Bandwidth",
               "Outside Chinese mainland | Monthly 95th percentile bandwidth", "95Peak", "Mbit/s", 2.5000,
               "month", "volume", volume_mean=180),
    UsageOffer("cce.turbo", "hws.service.type.cce", "hws.resource.type.cce", "CCE Turbo Cluster",
               "CCE Turbo | Up to 50 nodes | HA", "duration", "Hour", 0.2700, "hour", "time"),
    UsageOffer("dcs.redis", "hws.service.type.dcs", "hws.resource.type.dcs", "DCS for Redis 6.0",
               "Master/Standby | 2 GB", "duration", "Hour", 0.0700, "hour", "time"),
    UsageOffer("ri.c7.xlarge", "hws.service.type.ec2", "hws.resource.type.vm", "ECS Reserved Instance",
               "c7.xlarge.2 | Linux | 1 year | No upfront", "duration", "Hour", 0.1290, "hour", "time",
               billing_mode=RI_HOURLY),
    UsageOffer("sp.compute", "hws.service.type.sp", "hws.resource.type.sp", "Compute Savings Plan",
               "1 year | No upfront | 1.00 USD/hour commitment", "commitment", "Hour", 1.0000, "hour", "time",
               billing_mode=SP_HOURLY),
)

RESOURCE_TEMPLATES: tuple[ResourceTemplate, ...] = (
    *(ResourceTemplate(offer.key, (offer.key,), "ecs", 6.0 if offer.spec_desc.startswith("s6") else 3.0,
                       spot_share=0.15 if "Linux" in offer.spec_desc else 0.0)
      for offer in USAGE_OFFERS if offer.service == "hws.service.type.ec2" and offer.billing_mode == PAY_PER_USE),
    ResourceTemplate("evs.high_io", ("evs.high_io",), "volume", 8.0),
    ResourceTemplate("evs.ultra_high_io", ("evs.ultra_high_io",), "volume", 3.0),
    ResourceTemplate("obs.bucket", ("obs.storage", "obs.downflow", "obs.requests"), "bucket", 2.0),
    ResourceTemplate("rds.mysql.small", ("rds.mysql.small", "rds.storage"), "rds", 2.5),
    ResourceTemplate("rds.mysql.ha", ("rds.mysql.ha", "rds.storage"), "rds", 1.2),
    ResourceTemplate("elb.dedicated", ("elb.dedicated",), "elb", 2.0),
    ResourceTemplate("eip.ip", ("eip.ip",), "eip", 5.0),
    ResourceTemplate("eip.bandwidth", ("eip.bandwidth",), "bandwidth", 3.0),
    ResourceTemplate("eip.traffic", ("eip.traffic",), "bandwidth", 2.0),
    ResourceTemplate("cdn.traffic", ("cdn.traffic",), "cdn", 0.8),
    ResourceTemplate("cdn.peak95", ("cdn.peak95",), "cdn", 0.4),
    ResourceTemplate("cce.turbo", ("cce.turbo",), "cce", 0.8),
    ResourceTemplate("dcs.redis", ("dcs.redis",), "redis", 1.5),
    ResourceTemplate("ri.c7.xlarge", ("ri.c7.xlarge",), "ri", 0.3),
    ResourceTemplate("sp.compute", ("sp.compute",), "sp", 0.2),
)

SUBSCRIPTION_OFFERS: tuple[SubscriptionOffer, ...] = (
    *(SubscriptionOffer(
        f"ym.{offer.key}", offer.service, offer.resource_type, offer.product_name, offer.spec_desc,
        monthly_price=round(offer.unit_price * 730 * 0.72, 2), billing_mode=YEARLY_MONTHLY,
        weight=5.0 if offer.spec_desc.startswith("s6") else 2.5, name_prefix="ecs")
      for offer in USAGE_OFFERS if offer.service == "hws.service.type.ec2" and offer.billing_mode == PAY_PER_USE),
    SubscriptionOffer("ym.evs.high_io", "hws.service.type.ebs", "hws.resource.type.volume", "EVS High I/O",
                      "High I/O | SAS", 0.0840, YEARLY_MONTHLY, (40, 100, 200, 500), weight=6.0, name_prefix="volume"),
    SubscriptionOffer("ym.rds.mysql.small", "hws.service.type.rds", "hws.resource.type.rds.vm", "RDS for MySQL",
                      "rds.mysql.n1.large.2 | 2 vCPUs | 4 GB | Single", 63.0, YEARLY_MONTHLY, weight=2.0,
                      name_prefix="rds"),
    SubscriptionOffer("ym.rds.mysql.ha", "hws.service.type.rds", "hws.resource.type.rds.vm", "RDS for MySQL",
                      "rds.mysql.n1.xlarge.4.ha | 4 vCPUs | 16 GB | Primary/Standby", 305.0, YEARLY_MONTHLY,
                      weight=1.0, name_prefix="rds"),
    SubscriptionOffer("ym.eip.bandwidth", "hws.service.type.vpc", "hws.resource.type.bandwidth",
                      "Dedicated Bandwidth", "Dynamic BGP | Billed by bandwidth", 16.5, YEARLY_MONTHLY,
                      (5, 10, 20, 50), weight=3.0, name_prefix="bandwidth"),
    SubscriptionOffer("ym.cce.turbo", "hws.service.type.cce", "hws.resource.type.cce", "CCE Turbo Cluster",
                      "CCE Turbo | Up to 50 nodes | HA", 142.0, YEARLY_MONTHLY, weight=0.6, name_prefix="cce"),
    SubscriptionOffer("ym.dcs.redis", "hws.service.type.dcs", "hws.resource.type.dcs", "DCS for Redis 6.0",
                      "Master/Standby | 2 GB", 36.8, YEARLY_MONTHLY, weight=1.5, name_prefix="redis"),
    SubscriptionOffer("ri.c7.xlarge.upfront", "hws.service.type.ec2", "hws.resource.type.vm",
                      "ECS Reserved Instance", "c7.xlarge.2 | Linux | 1 year | All upfront", 82.0,
                      RI_SUBSCRIPTION, yearly_only=True, weight=0.4, name_prefix="ri"),
    SubscriptionOffer("sp.compute.upfront", "hws.service.type.sp", "hws.resource.type.sp", "Compute Savings Plan",
                      "1 year | All upfront | 0.50 USD/hour commitment", 310.0, SP_SUBSCRIPTION,
                      yearly_only=True, weight=0.25, name_prefix="sp"),
)

# Discount type codes used on lines (docs/domain.md#discount-types); 607/609 never appear on resale lines.
COMMERCIAL_CONTRACT_DISCOUNT = "605"
PROMO_PRODUCT_DISCOUNT = "200"
PROMO_DISCOUNT = "700"


def product_id(offer_key: str) -> str:
    """A stable HUAWEI-style product ID ("OFFI" + 18 digits) derived from the offer key."""
    digest = hashlib.sha256(offer_key.encode()).digest()
    return "OFFI" + str(int.from_bytes(digest[:8], "big"))[-18:].zfill(18)


@dataclass(frozen=True)
class Catalog:
    """All offers as one table (usage offers first, then subscription offers) plus the numeric
    columns as numpy arrays for vectorised pricing. Row index = offer index."""

    offers: pl.DataFrame            # offer_key, billing_mode, service/resource/product text columns, usage columns
    regions: pl.DataFrame           # region_code, region_name, price_factor
    services: pl.DataFrame          # service_type_code, service_type_name, incentive_policy
    usage_offer_index: dict[str, int]
    subscription_offer_index: dict[str, int]
    granularity: np.ndarray         # per offer: 0 hour, 1 day, 2 month (usage offers only)
    quantity: np.ndarray            # per offer: 0 time, 1 sized, 2 volume
    unit_price: np.ndarray          # per offer, USD per usage unit (usage) or per month per size unit
    volume_mean: np.ndarray
    billing_mode: np.ndarray
    service_index: np.ndarray       # per offer: row in SERVICES
    is_global: np.ndarray           # per offer: service without region
    region_price_factor: np.ndarray
    region_weight: np.ndarray


GRANULARITY_CODES = {"hour": 0, "day": 1, "month": 2}
QUANTITY_CODES = {"time": 0, "sized": 1, "volume": 2}


def build_catalog() -> Catalog:
    service_names = {code: name for code, name, _ in SERVICES}
    rows = []
    for offer in USAGE_OFFERS:
        rows.append(dict(
            offer_key=offer.key, billing_mode=offer.billing_mode, service_type_code=offer.service,
            service_type_name=service_names[offer.service], resource_type_code=offer.resource_type,
            resource_type_name=RESOURCE_TYPES[offer.resource_type], product_id=product_id(offer.key),
            product_name=offer.product_name, spec_desc=offer.spec_desc, usage_type=offer.usage_type,
            usage_unit=offer.usage_unit, granularity=offer.granularity, quantity=offer.quantity,
            unit_price=offer.unit_price, volume_mean=offer.volume_mean,
        ))
    for offer in SUBSCRIPTION_OFFERS:
        rows.append(dict(
            offer_key=offer.key, billing_mode=offer.billing_mode, service_type_code=offer.service,
            service_type_name=service_names[offer.service], resource_type_code=offer.resource_type,
            resource_type_name=RESOURCE_TYPES[offer.resource_type], product_id=product_id(offer.key),
            product_name=offer.product_name, spec_desc=offer.spec_desc, usage_type=None, usage_unit=None,
            granularity="month", quantity="time", unit_price=offer.monthly_price, volume_mean=0.0,
        ))
    offers = pl.DataFrame(rows)
    regions = pl.DataFrame(
        [(code, name, factor) for code, name, factor, _ in REGIONS],
        schema=["region_code", "region_name", "price_factor"], orient="row",
    )
    services = pl.DataFrame(list(SERVICES), schema=["service_type_code", "service_type_name", "incentive_policy"],
                            orient="row")
    n_usage = len(USAGE_OFFERS)
    return Catalog(
        offers=offers,
        regions=regions,
        services=services,
        usage_offer_index={offer.key: i for i, offer in enumerate(USAGE_OFFERS)},
        subscription_offer_index={offer.key: n_usage + i for i, offer in enumerate(SUBSCRIPTION_OFFERS)},
        granularity=offers["granularity"].replace_strict(GRANULARITY_CODES).to_numpy().astype(np.int64),
        quantity=offers["quantity"].replace_strict(QUANTITY_CODES).to_numpy().astype(np.int64),
        unit_price=offers["unit_price"].to_numpy(),
        volume_mean=offers["volume_mean"].to_numpy(),
        billing_mode=offers["billing_mode"].to_numpy().astype(np.int64),
        service_index=offers["service_type_code"].replace_strict(
            {code: i for i, (code, _, _) in enumerate(SERVICES)}).to_numpy().astype(np.int64),
        is_global=offers["service_type_code"].is_in(list(GLOBAL_SERVICES)).to_numpy(),
        region_price_factor=np.array([factor for _, _, factor, _ in REGIONS]),
        region_weight=np.array([weight for *_, weight in REGIONS]) / sum(weight for *_, weight in REGIONS),
    )
