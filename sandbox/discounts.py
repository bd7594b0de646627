"""HUAWEI CLOUD-side discounts on the partner's bill lines (docs/domain.md#discount-types): the commercial contract
discount (type 605), one partner-wide rate per service, and promotions (types 200 and 700). These
are not the partner's own customer discounts (agreements.py).

The world keeps to what the discount audit of docs/reconciliation.md checks:
- a line whose only discount is 605 carries exactly floor(list price × the service's partner-wide
  rate), the rate ListBusinessDiscountInfo serves (there are no customer-specific rates, which that
  API could not show);
- a service whose incentive policy forbids discounts (policy 2, `allow_discount = NO`) has no
  contract rate and its lines get no promotion, so none of its lines carries a discount;
- every other service has a contract rate, and every line of it (pay-per-use, yearly/monthly and
  reserved instances alike) gets it, so the partner's own customer discounts, capped below it,
  never bill a line under its cost.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .catalog import COMMERCIAL_CONTRACT_DISCOUNT, SERVICES
from .money import apply_rate

NO_DISCOUNT_POLICY = 2   # incentive policy under which the API says allow_discount = NO

# HUAWEI CLOUD's commercial (605) discount to the partner per service, in 1e-4 (1000 = 10 %):
# exactly the services whose policy allows discounts.
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
}
MIN_CONTRACT_RATE = min(CONTRACT_RATES.values())

SERVICE_INDEX = {code: i for i, (code, _, _) in enumerate(SERVICES)}
DISCOUNT_FORBIDDEN = frozenset(code for code, _, policy in SERVICES if policy == NO_DISCOUNT_POLICY)
assert set(CONTRACT_RATES) == {code for code, _, _ in SERVICES} - DISCOUNT_FORBIDDEN, \
    "every service that allows discounts has a contract rate, and only those"


def make_contract_discounts() -> tuple[pl.DataFrame, np.ndarray]:
    """The contract discounts as a table (customer_id '*': partner-wide) and as rates in 1e-4 per
    service index (0 for services that allow no discount)."""
    by_service = np.zeros(len(SERVICES), dtype=np.int64)
    rows = []
    for code, rate in CONTRACT_RATES.items():
        by_service[SERVICE_INDEX[code]] = rate
        rows.append(("*", code, COMMERCIAL_CONTRACT_DISCOUNT, rate))
    table = pl.DataFrame(rows, schema=["customer_id", "service_type_code", "discount_type", "rate_1e4"],
                         orient="row")
    table = table.with_columns(
        discount_rate=(pl.col("rate_1e4").cast(pl.Decimal(38, 4)) / 10_000).cast(pl.Decimal(9, 4))
    ).drop("rate_1e4")
    return table, by_service


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
