"""HUAWEI CLOUD-side discounts on the partner's bill lines (domain §4.4): commercial contract
discounts (type 605) by service, with project-specific savings for a few large customers, and
promotions (types 200 and 700). These are not the partner's own customer discounts (agreements.py).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .catalog import COMMERCIAL_CONTRACT_DISCOUNT, SERVICES
from .money import apply_rate

# Partner-wide commercial contract discount by service, in 1e-4 (1000 = 10 %).
# HUAWEI CLOUD's commercial (605) discount to the partner per service, in 1e-4. Every service has
# one, so the partner's own customer discounts (sandbox/agreements.py) can stay below it.
CONTRACT_RATES = {
    "hws.service.type.ec2": 1000,
    "hws.service.type.rds": 800,
    "hws.service.type.ebs": 500,
    "hws.service.type.obs": 400,
    "hws.service.type.cce": 600,
    "hws.service.type.elb": 400,
    "hws.service.type.vpc": 400,
    "hws.service.type.cdn": 500,
    "hws.service.type.dcs": 500,
    "hws.service.type.sp": 400,
}
MIN_CONTRACT_RATE = min(CONTRACT_RATES.values())

SERVICE_INDEX = {code: i for i, (code, _, _) in enumerate(SERVICES)}


def make_contract_discounts(rng: np.random.Generator, customer_ids: pl.Series,
                            spend_weight: np.ndarray) -> tuple[pl.DataFrame, np.ndarray]:
    """The contract discounts as a table and as a (customer × service) matrix of rates in 1e-4.

    The largest customers get a project-specific ECS saving, which takes precedence over the
    partner-wide product-type discount (domain §4.4)."""
    customers = customer_ids.len()
    matrix = np.zeros((customers, len(SERVICES)), dtype=np.int64)
    rows = []
    for code, rate in CONTRACT_RATES.items():
        matrix[:, SERVICE_INDEX[code]] = rate
        rows.append(("*", code, COMMERCIAL_CONTRACT_DISCOUNT, rate))
    project_count = max(1, customers // 10)
    largest = np.argsort(-spend_weight, kind="stable")[:project_count]
    project_rates = rng.integers(24, 36, size=project_count) * 50  # 12 % … 17.5 %, in half-percent steps
    ec2 = SERVICE_INDEX["hws.service.type.ec2"]
    matrix[largest, ec2] = project_rates
    customer_list = customer_ids.to_list()
    rows.extend((customer_list[c], "hws.service.type.ec2", COMMERCIAL_CONTRACT_DISCOUNT, int(r))
                for c, r in zip(largest, project_rates))
    table = pl.DataFrame(rows, schema=["customer_id", "service_type_code", "discount_type", "rate_1e4"],
                         orient="row")
    table = table.with_columns(
        discount_rate=(pl.col("rate_1e4").cast(pl.Decimal(38, 4)) / 10_000).cast(pl.Decimal(9, 4))
    ).drop("rate_1e4")
    return table, matrix


# discount_types text for (has contract discount) + 2 × (promotion kind: 0 none, 1 = 700, 2 = 200)
DISCOUNT_TYPE_TEXT = (None, "605", "700", "605;700", "200", "605;200")
PROMO_NONE, PROMO_700, PROMO_200 = 0, 1, 2


def discount_lines(
    rng: np.random.Generator,
    official: np.ndarray,
    contract_rate: np.ndarray,
    promo_kind: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Discount amounts (units) and the index into DISCOUNT_TYPE_TEXT of a batch of lines.

    The contract discount applies to the list price, a promotion to what remains after it; a code
    is listed only when its discount is actually non-zero."""
    contract = apply_rate(official, contract_rate)
    promo_rate = np.where(promo_kind == PROMO_200, rng.integers(1000, 3001, size=official.size),
                          rng.integers(500, 2001, size=official.size))
    promo = np.where(promo_kind != PROMO_NONE, apply_rate(official - contract, promo_rate), 0)
    code = (contract > 0).astype(np.int64) + 2 * np.where(promo > 0, promo_kind, PROMO_NONE)
    return contract + promo, code
