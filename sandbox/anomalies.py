"""Planted anomalies and their ground truth (docs/reconciliation.md, issue 4).

`plant_anomalies(world, count)` plants `count` anomalies of every kind of docs/reconciliation.md at
random places, each of which the reconciliation must report as exactly one finding, and returns
them as `PlantedAnomaly` records (the ground truth). Where a world has fewer suitable places than
`count`, it plants as many as there are, and the ground truth lists only those.

One plant, one finding: a plant never lands on a line, order, customer tie-out, statement line,
agreement key or coupon another plant touched, and it changes the world so that every other rule
stays silent about it. In order:

1. Agreements (agreements/customer_discounts.csv): a 50 % customer+service rule over one closed
   cycle (negative margin), a customer key ended inside the last closed cycle (expired), a copy of
   a customer rule with a later start (overlap).
2. Bill lines of the closed months: a discount on a service that allows none, a changed 605
   discount, broken line identities, and a coupon payment for a customer whose coupon had expired.
   The API data is derived from the lines afterwards, so its sums follow these changes.
3. Incentive statements, computed from the final lines: a changed amount, a dropped line, a line
   for a service without eligible performance.
4. The BSS API's records (world.api_data): the partner's monthly bill, customer monthly sums, a
   607 discount on an order, a budget below its spend, and the coupons of the coupon plants.

The random choices come from a stream of their own ([seed, 301]), so the same seed plants the same
anomalies and a world planted with nothing is the clean world, byte for byte.

The API plants live in `world.api_data` (the records the emulator serves by default): an `ApiData`
built anew for the world would derive everything from the planted lines but carry none of them.

The plants of steps 1 to 3 are in sandbox/anomalies_files.py, those of step 4 in
sandbox/anomalies_api.py; what they share (the record of a plant, the planter's state and random
choices) in sandbox/anomalies_base.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .anomalies_api import ApiPlants
from .anomalies_base import PlantedAnomaly
from .anomalies_files import FilePlants

if TYPE_CHECKING:
    from .world import World

# Every kind, in the order of docs/reconciliation.md.
RULE_IDS: tuple[str, ...] = (
    "TIEOUT.PARTNER_BILL",
    "TIEOUT.CUSTOMER_AMOUNT",
    "TIEOUT.CUSTOMER_MISSING_IN_API",
    "TIEOUT.CUSTOMER_MISSING_IN_FILE",
    "DISCOUNT.PARTNER_DISCOUNT_ON_RESALE",
    "DISCOUNT.NOT_ALLOWED",
    "DISCOUNT.RATE_MISMATCH",
    "BILL.AMOUNT_DUE_IDENTITY",
    "BILL.PAYMENT_IDENTITY",
    "DISCOUNT.NEGATIVE_MARGIN",
    "AGREEMENT.OVERLAP",
    "AGREEMENT.EXPIRED",
    "INCENTIVE.AMOUNT_MISMATCH",
    "INCENTIVE.MISSING_IN_STATEMENT",
    "INCENTIVE.EXTRA_IN_STATEMENT",
    "BUDGET.OVER_NOT_FROZEN",
    "COUPON.USED_AFTER_EXPIRY",
    "COUPON.USED_BEYOND_BALANCE",
)


class _Planter(FilePlants, ApiPlants):
    """Chooses the places, changes the world and records each plant, of every kind."""


def ground_truth_records(planted: Sequence[PlantedAnomaly]) -> list[dict[str, Any]]:
    """Ground-truth records in a stable order (rule, cycle, customer, reference, amount)."""
    records = [p.record() for p in planted]
    return sorted(records, key=lambda r: tuple("" if r[k] is None else r[k] for k in (
        "rule_id", "bill_cycle", "customer_id", "reference", "amount")))


def plant_anomalies(world: World, count: int) -> list[PlantedAnomaly]:
    """Plant `count` anomalies of every kind into `world` (in place) and return them."""
    planter = _Planter(world, count)
    planter.plant_agreements()
    planter.plant_lines()
    planter.plant_statements()
    planter.plant_api()
    return planter.planted
