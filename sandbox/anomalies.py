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
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import polars as pl

from .agreements import AgreedRates
from .api_data import (
    COUPON_COLUMN,
    COUPON_TYPE_CASH,
    COUPON_TYPE_VOUCHER,
    ApiData,
    coupon_status,
    local_time_of,
    utc_text,
)
from .catalog import PROMO_DISCOUNT
from .discounts import DISCOUNT_FORBIDDEN
from .formats import CUSTOMER_DISCOUNT_COLUMNS
from .incentives import build_statement, incentive_of, statement_frame, statement_row, statement_status
from .months import add_months, date_of, month_start

if TYPE_CHECKING:
    from .world import World

ANOMALY_STREAM = 301

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

PARTNER_DISCOUNT_TYPE = "607"          # partner-authorised discount: never allowed on a resale order
NEGATIVE_MARGIN_RATE = Decimal("0.5")
# Real HUAWEI CLOUD service types the world never sells: the services of planted extra statement lines.
UNSOLD_SERVICES = ("hws.service.type.dws", "hws.service.type.mrs", "hws.service.type.dds")
EXTRA_LINE_RATE = Decimal("0.0500")
COUPON_TYPE_NAMES = {COUPON_TYPE_CASH: "cash_coupon", COUPON_TYPE_VOUCHER: "voucher"}

_CENT = Decimal("0.01")
_EIGHT_PLACES = Decimal("1e-8")
T = TypeVar("T")


@dataclass(frozen=True)
class PlantedAnomaly:
    """One planted anomaly: the finding the reconciliation must report for it."""

    rule_id: str
    bill_cycle: str | None
    customer_id: str | None
    reference: str | None
    amount: Decimal | None   # difference_amount as docs/reconciliation.md defines it; None where it has none

    def record(self) -> dict[str, Any]:
        """The ground-truth record: the amount rounded half-up to the cent, as text."""
        # Adding 0 turns a rounded −0.00 into 0.00.
        amount = None if self.amount is None else str(self.amount.quantize(_CENT, rounding=ROUND_HALF_UP) + 0)
        return {"rule_id": self.rule_id, "bill_cycle": self.bill_cycle, "customer_id": self.customer_id,
                "reference": self.reference, "amount": amount}


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


# ----------------------------------------------------------------------------------------- helpers

def _trade_date(trade_time: str) -> dt.date:
    return dt.date.fromisoformat(trade_time[:10])


def _local_time_of_utc(utc: str) -> dt.datetime:
    """The API's UTC text → naive GMT+8 datetime."""
    return dt.datetime.strptime(utc, "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(hours=8)


def _month_days(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of `month`."""
    return date_of(month_start(month)), date_of(month_start(add_months(month, 1))) - dt.timedelta(days=1)


def _edited(frame: pl.DataFrame, trade_id: str, changes: dict[str, Any]) -> pl.DataFrame:
    """`frame` with the columns of the line `trade_id` set to `changes`."""
    hit = pl.col("trade_id") == trade_id
    return frame.with_columns(pl.when(hit).then(pl.lit(value, dtype=frame.schema[column])).otherwise(pl.col(column))
                              .alias(column) for column, value in changes.items())


class _Planter:
    """Chooses the places, changes the world and records each plant."""

    def __init__(self, world: World, count: int):
        self.world = world
        self.count = count
        self.rng = np.random.default_rng([world.config.seed, ANOMALY_STREAM])
        self.closed = list(world.closed_months)
        self.lines: dict[str, pl.DataFrame] = {month: world.bill_lines[month] for month in self.closed}
        self.cash_payers = world.customers.filter(pl.col("payment_method") == "cash")["customer_id"].to_list()
        self.contract_rate = {row["service_type_code"]: Decimal(row["discount_rate"])
                              for row in world.contract_discounts.iter_rows(named=True)}
        self.planted: list[PlantedAnomaly] = []
        self.touched_lines: set[str] = set()                       # trade_ids changed or relied upon
        self.margin_groups: set[tuple[str, str, str]] = set()      # (cycle, customer, service) kept as they are
        self.agreement_keys: set[tuple[str, str, str]] = set()     # (customer, service, resource) planted on
        self.coupon_customers: set[str] = set()
        self.expired_coupon_uses: list[tuple[str, str, Decimal]] = []   # (customer, trade_time, amount)

    # ------------------------------------------------------------------------------ choosing

    def _shuffled(self, items: Sequence[T]) -> Iterator[T]:
        for index in self.rng.permutation(len(items)):
            yield items[int(index)]

    def _amount(self, low: str | Decimal, high: str | Decimal) -> Decimal:
        """A random amount with cents between `low` and `high` (both included)."""
        low, high = Decimal(low), Decimal(high)
        steps = int((high - low) / _CENT)
        return low + _CENT * int(self.rng.integers(0, steps + 1))

    def _plant(self, rule_id: str, bill_cycle: str | None, customer_id: str | None, reference: str | None,
               amount: Decimal | None) -> None:
        self.planted.append(PlantedAnomaly(rule_id, bill_cycle, customer_id, reference, amount))

    def _main_payment(self) -> pl.Expr:
        """The instrument a line's customer mainly pays with: cash, or monthly settlement (credit)."""
        return pl.when(pl.col("customer_id").is_in(self.cash_payers)).then(pl.col("cash_amount")) \
            .otherwise(pl.col("credit_amount"))

    def _main_column(self, customer_id: str) -> str:
        return "cash_amount" if customer_id in self.cash_payers else "credit_amount"

    def _lines_to_plant(self, condition: pl.Expr) -> Iterator[tuple[str, dict]]:
        """(month, line) of the closed months' lines meeting `condition`, in random order, leaving out
        lines a plant has touched and lines of negative-margin groups. Each line is read when its turn
        comes, so it shows the changes made meanwhile."""
        places = []
        for month in self.closed:
            kept = [f"{customer}|{service}" for cycle, customer, service in sorted(self.margin_groups)
                    if cycle == month]
            group = pl.concat_str([pl.col("customer_id"), pl.col("service_type_code")], separator="|")
            frame = self.lines[month].filter(condition & ~pl.col("trade_id").is_in(list(self.touched_lines))
                                             & ~group.is_in(kept))
            places += [(month, trade_id) for trade_id in frame["trade_id"].to_list()]
        for month, trade_id in self._shuffled(places):
            if trade_id not in self.touched_lines:
                yield month, self.lines[month].filter(pl.col("trade_id") == trade_id).row(0, named=True)

    def _pick(self, places: Sequence[T]) -> list[T]:
        """`count` of `places` (all of them when there are fewer), chosen at random."""
        return list(self._shuffled(places))[:self.count]

    def _change_line(self, month: str, line: dict, changes: dict[str, Any]) -> None:
        self.lines[month] = _edited(self.lines[month], line["trade_id"], changes)
        self.touched_lines.add(line["trade_id"])

    # ------------------------------------------------------------------------------ 1. agreements

    def plant_agreements(self) -> None:
        rules = list(self.world.customer_discounts.iter_rows(named=True))
        rules = self._plant_negative_margins(rules)
        rules = self._plant_expired_keys(rules)
        rules = self._plant_overlaps(rules)
        self.world.customer_discounts = pl.DataFrame(rules, schema=self.world.customer_discounts.schema) \
            .select(CUSTOMER_DISCOUNT_COLUMNS)

    def _plant_negative_margins(self, rules: list[dict]) -> list[dict]:
        """A 50 % customer+service rule from the 2nd to the last day of one closed cycle, then 0 %
        from the next month on (so the key never ends: no AGREEMENT.EXPIRED). Only this cycle's lines
        fall in that window: the month before spills over into the 1st at most, the month after
        starts later. The customer and service have no customer+service or customer+resource rule
        yet (no overlap, no more specific rule shadowing the new one). The group must lose at least
        1.00, so the finding cannot round away."""
        keyed = {(r["customer_id"], r["service_type_code"]) for r in rules
                 if r["customer_id"] != "*" and r["service_type_code"] != "*"}
        candidates = []
        for month in self.closed:
            first, last = _month_days(month)
            window = self.lines[month].filter(
                (pl.col("bill_type") == "Expenditure")
                & ~pl.col("service_type_code").is_in(list(DISCOUNT_FORBIDDEN))
                & (pl.col("trade_time").str.slice(0, 10) > str(first))
                & (pl.col("trade_time").str.slice(0, 10) <= str(last)))
            sums = window.group_by("customer_id", "service_type_code").agg(pl.col("official_amount").sum())
            candidates += [(month, customer, service) for customer, service, official in sums.sort(
                "customer_id", "service_type_code").iter_rows()
                if official >= 10 and (customer, service) not in keyed]
        planted = 0
        for month, customer, service in self._shuffled(candidates):
            if planted == self.count:
                break
            if (customer, service, "*") in self.agreement_keys:
                continue
            first, last = _month_days(month)
            new_rules = [
                {"customer_id": customer, "service_type_code": service, "resource_type_code": "*",
                 "discount_rate": NEGATIVE_MARGIN_RATE, "valid_from": first + dt.timedelta(days=1), "valid_to": last},
                {"customer_id": customer, "service_type_code": service, "resource_type_code": "*",
                 "discount_rate": Decimal(0), "valid_from": last + dt.timedelta(days=1), "valid_to": None},
            ]
            margin = self._margin(month, customer, service, AgreedRates(pl.DataFrame(
                [*rules, *new_rules], schema=self.world.customer_discounts.schema)))
            if margin > Decimal("-1.00"):
                continue
            rules = [*rules, *new_rules]
            self.margin_groups.add((month, customer, service))
            self.agreement_keys.add((customer, service, "*"))
            # The amount is recomputed from the final lines and rules once everything is planted.
            self._plant("DISCOUNT.NEGATIVE_MARGIN", month, customer, service, None)
            planted += 1
        return rules

    def _margin(self, month: str, customer: str, service: str, rates: AgreedRates) -> Decimal:
        """Σ (customer charge − amount due) over the customer's Expenditure lines of the service in
        the cycle, the customer charge being round_half_up(list × (1 − agreed rate), 8). Refunds are
        left out: they mirror the margin of the order they refund, whatever the agreement."""
        total = Decimal(0)
        group = self.lines[month].filter((pl.col("customer_id") == customer) & (pl.col("service_type_code") == service)
                                         & (pl.col("bill_type") == "Expenditure"))
        for line in group.iter_rows(named=True):
            rate = rates.rate(customer, service, line["resource_type_code"], _trade_date(line["trade_time"]))
            charge = (line["official_amount"] * (1 - (rate or Decimal(0)))).quantize(_EIGHT_PLACES, ROUND_HALF_UP)
            total += charge - line["amount_due"]
        return total

    def _plant_expired_keys(self, rules: list[dict]) -> list[dict]:
        """End a customer key's open last version on a day of the last closed cycle after which the
        customer still has Expenditure lines in the key's scope in that cycle. No later closed cycle
        exists, so the key is reported once. Keys of services sold at list price are left alone: their
        lines would fall back to a rule with a discount and lose money."""
        cycle = self.closed[-1]
        first, last = _month_days(cycle)
        lines = self.lines[cycle].filter(pl.col("bill_type") == "Expenditure")
        open_versions = [i for i, r in enumerate(rules) if r["customer_id"] != "*" and r["valid_to"] is None
                         and r["service_type_code"] not in DISCOUNT_FORBIDDEN]
        planted = 0
        for index in self._shuffled(open_versions):
            if planted == self.count:
                break
            rule = rules[index]
            key = (rule["customer_id"], rule["service_type_code"], rule["resource_type_code"])
            customer, service, resource = key
            if key in self.agreement_keys:
                continue
            scope = pl.col("customer_id") == customer
            if service != "*":
                scope &= pl.col("service_type_code") == service
            if resource != "*":
                scope &= pl.col("resource_type_code") == resource
            dates = sorted({_trade_date(t) for t in lines.filter(scope)["trade_time"].to_list()})
            earliest_end = max(first, rule["valid_from"])
            latest_end = min(last - dt.timedelta(days=1), dates[-1] - dt.timedelta(days=1)) if dates else None
            if latest_end is None or latest_end < earliest_end:
                continue
            end = earliest_end + dt.timedelta(days=int(self.rng.integers(0, (latest_end - earliest_end).days + 1)))
            rules = [*rules]
            rules[index] = {**rule, "valid_to": end}
            self.agreement_keys.add(key)
            self._plant("AGREEMENT.EXPIRED", cycle, customer, f"{service} / {resource}", None)
            planted += 1
        return rules

    def _plant_overlaps(self, rules: list[dict]) -> list[dict]:
        """Copy one version of a customer key with the same rate and a start 1–28 days later inside
        the version: the copy overlaps that version only, and changes no rate."""
        versions = [i for i, r in enumerate(rules) if r["customer_id"] != "*"]
        planted = 0
        for index in self._shuffled(versions):
            if planted == self.count:
                break
            rule = rules[index]
            key = (rule["customer_id"], rule["service_type_code"], rule["resource_type_code"])
            if key in self.agreement_keys:
                continue
            start = rule["valid_from"] + dt.timedelta(days=int(self.rng.integers(1, 29)))
            if rule["valid_to"] is not None and start > rule["valid_to"]:
                continue
            rules = [*rules, {**rule, "valid_from": start}]
            self.agreement_keys.add(key)
            self._plant("AGREEMENT.OVERLAP", None, rule["customer_id"],
                        f"{rule['service_type_code']} / {rule['resource_type_code']}", None)
            planted += 1
        return rules

    # ------------------------------------------------------------------------------ 2. bill lines

    def plant_lines(self) -> None:
        expenditure = pl.col("bill_type") == "Expenditure"
        self._plant_not_allowed(expenditure)
        self._plant_rate_mismatches(expenditure)
        self._plant_amount_due_identities(expenditure)
        self._plant_payment_identities(expenditure)
        self._plant_coupon_use_after_expiry(expenditure)
        for month, frame in self.lines.items():
            self.world.month_lines.replace(month, frame)
        self._settle_negative_margins()

    def _plant_not_allowed(self, expenditure: pl.Expr) -> None:
        """A 700 promotion D on a line of a service that allows no discount; amount due and its main
        payment drop by D, so both identities hold."""
        lines = self._lines_to_plant(
            expenditure & pl.col("service_type_code").is_in(list(DISCOUNT_FORBIDDEN))
            & (pl.col("discount_amount") == 0) & (self._main_payment() >= Decimal("0.02")))
        for month, line in islice(lines, self.count):
            main = self._main_column(line["customer_id"])
            discount = max(_CENT, (line[main] * Decimal(str(self.rng.uniform(0.2, 0.8)))).quantize(_CENT, ROUND_DOWN))
            self._change_line(month, line, {
                "discount_amount": discount, "discount_types": PROMO_DISCOUNT,
                "amount_due": line["amount_due"] - discount, main: line[main] - discount})
            self._plant("DISCOUNT.NOT_ALLOWED", month, line["customer_id"], line["trade_id"], discount)

    def _plant_rate_mismatches(self, expenditure: pl.Expr) -> None:
        """D (1.00 … 20.00) more discount on a line whose only discount is the 605 contract discount;
        amount due and its main payment follow. More discount only raises the partner's margin."""
        lines = self._lines_to_plant(expenditure & (pl.col("discount_types") == "605")
                                     & (self._main_payment() >= Decimal("1.01")))
        for month, line in islice(lines, self.count):
            main = self._main_column(line["customer_id"])
            extra = self._amount("1.00", min(line[main], Decimal("20.00")))
            discount = line["discount_amount"] + extra
            self._change_line(month, line, {
                "discount_amount": discount, "amount_due": line["amount_due"] - extra, main: line[main] - extra})
            expected = line["official_amount"] * self.contract_rate[line["service_type_code"]]
            self._plant("DISCOUNT.RATE_MISMATCH", month, line["customer_id"], line["trade_id"], discount - expected)

    def _plant_amount_due_identities(self, expenditure: pl.Expr) -> None:
        """D (1.00 … 20.00) added to the discount alone, on a line that is not 605-only (so the rate
        rule has nothing to say) of a service that allows discounts (so the not-allowed rule neither)."""
        lines = self._lines_to_plant(
            expenditure & ~pl.col("service_type_code").is_in(list(DISCOUNT_FORBIDDEN))
            & (pl.col("discount_types").is_null() | (pl.col("discount_types") != "605")))
        for month, line in islice(lines, self.count):
            extra = self._amount("1.00", "20.00")
            self._change_line(month, line, {"discount_amount": line["discount_amount"] + extra})
            self._plant("BILL.AMOUNT_DUE_IDENTITY", month, line["customer_id"], line["trade_id"], extra)

    def _plant_payment_identities(self, expenditure: pl.Expr) -> None:
        """D (1.00 … 20.00) added to or taken from the main payment alone, on a line that is not
        605-only; coupons, amount due and margins stay as they are."""
        lines = self._lines_to_plant(
            expenditure & (pl.col("discount_types").is_null() | (pl.col("discount_types") != "605")))
        for month, line in islice(lines, self.count):
            main = self._main_column(line["customer_id"])
            change = self._amount("1.00", "20.00")
            if self.rng.random() < 0.5 and line[main] >= change:
                change = -change
            self._change_line(month, line, {main: line[main] + change})
            self._plant("BILL.PAYMENT_IDENTITY", month, line["customer_id"], line["trade_id"], -change)

    def _plant_coupon_use_after_expiry(self, expenditure: pl.Expr) -> None:
        """P (1.00 … 50.00) of a line's main payment moved to cash coupon, for a customer that used no
        cash coupon anywhere up to the API's now. The API then shows that use on a cash coupon that
        had expired before the line (plant_api), so the use is covered by the coupon's balance
        (no USED_BEYOND_BALANCE) but no valid coupon paid it."""
        paid_by_cash_coupon = {customer for frame in [*self.lines.values(), self._open_lines_until_now()]
                               for customer in frame.filter(pl.col("cash_coupon_amount") != 0)["customer_id"].to_list()}
        lines = self._lines_to_plant(
            expenditure & ~pl.col("customer_id").is_in(list(paid_by_cash_coupon))
            & (self._main_payment() >= Decimal("1.01")))
        planted = 0
        for month, line in lines:
            if planted == self.count:
                break
            if line["customer_id"] in self.coupon_customers:
                continue
            main = self._main_column(line["customer_id"])
            moved = self._amount("1.00", min(line[main], Decimal("50.00")))
            self._change_line(month, line, {main: line[main] - moved,
                                            "cash_coupon_amount": line["cash_coupon_amount"] + moved})
            self.coupon_customers.add(line["customer_id"])
            self.expired_coupon_uses.append((line["customer_id"], line["trade_time"], moved))
            self._plant("COUPON.USED_AFTER_EXPIRY", month, line["customer_id"], line["trade_id"], moved)
            planted += 1

    def _open_lines_until_now(self) -> pl.DataFrame:
        """The open month's lines the API has seen (up to its as-of time)."""
        cutoff = self.world.api_data.as_of_file_time
        return self.world.month_lines[self.world.open_month].filter(pl.col("trade_time") <= cutoff)

    def _settle_negative_margins(self) -> None:
        """The negative-margin amounts, from the final lines and rules."""
        rates = AgreedRates(self.world.customer_discounts)
        for index, plant in enumerate(self.planted):
            if plant.rule_id == "DISCOUNT.NEGATIVE_MARGIN":
                margin = self._margin(plant.bill_cycle, plant.customer_id, plant.reference, rates)
                assert margin <= Decimal("-1.00"), plant
                self.planted[index] = PlantedAnomaly(plant.rule_id, plant.bill_cycle, plant.customer_id,
                                                     plant.reference, margin)

    # ------------------------------------------------------------------------------ 3. statements

    def plant_statements(self) -> None:
        world = self.world
        rows = {month: list(build_statement(month, self.lines[month], world.services, world.incentive_rates,
                                            statement_status(month, self.closed)).iter_rows(named=True))
                for month in self.closed}
        used: set[tuple[str, str]] = set()
        self._plant_incentive_mismatches(rows, used)
        self._plant_missing_statement_lines(rows, used)
        self._plant_extra_statement_lines(rows, used)
        for month, month_rows in rows.items():
            self.world._statements[month] = statement_frame(month_rows)

    def _plant_incentive_mismatches(self, rows: dict[str, list[dict]], used: set[tuple[str, str]]) -> None:
        """One line's incentive changed by X (1.00 … 100.00, down only where it stays ≥ 0)."""
        candidates = [(month, i) for month in self.closed for i in range(len(rows[month]))]
        for month, i in self._pick(candidates):
            row = rows[month][i]
            change = self._amount("1.00", "100.00")
            if self.rng.random() < 0.5 and row["incentive_amount"] >= change:
                change = -change
            rows[month][i] = {**row, "incentive_amount": row["incentive_amount"] + change}
            used.add((month, row["service_type_code"]))
            self._plant("INCENTIVE.AMOUNT_MISMATCH", month, None, row["service_type_code"], change)

    def _plant_missing_statement_lines(self, rows: dict[str, list[dict]], used: set[tuple[str, str]]) -> None:
        """One line with a non-zero incentive dropped."""
        candidates = [(month, row["service_type_code"]) for month in self.closed for row in rows[month]
                      if row["incentive_amount"] != 0 and (month, row["service_type_code"]) not in used]
        for month, service in self._pick(candidates):
            row = next(r for r in rows[month] if r["service_type_code"] == service)
            rows[month].remove(row)
            used.add((month, service))
            self._plant("INCENTIVE.MISSING_IN_STATEMENT", month, None, service, -row["incentive_amount"])

    def _plant_extra_statement_lines(self, rows: dict[str, list[dict]], used: set[tuple[str, str]]) -> None:
        """A line for a service the world never sells, hence without eligible performance."""
        sold = set(self.world.services["service_type_code"].to_list())
        candidates = [(month, service) for month in self.closed for service in UNSOLD_SERVICES
                      if service not in sold and (month, service) not in used]
        for month, service in self._pick(candidates):
            performance = self._amount("100.00", "5000.00")
            incentive = incentive_of(performance, EXTRA_LINE_RATE)
            status = statement_status(month, self.closed)
            sequence = max((int(r["statement_id"][-4:]) for r in rows[month]), default=0) + 1
            rows[month].append(statement_row(month, sequence, service, performance, EXTRA_LINE_RATE, incentive,
                                             status))
            used.add((month, service))
            self._plant("INCENTIVE.EXTRA_IN_STATEMENT", month, None, service, incentive)

    # ------------------------------------------------------------------------------ 4. the API

    def plant_api(self) -> None:
        api = self.world.api_data
        self._plant_partner_bills(api)
        tied: set[tuple[str, str]] = set()
        self._plant_customer_amounts(api, tied)
        self._plant_customers_missing_in_api(api, tied)
        self._plant_customers_missing_in_file(api, tied)
        self._plant_partner_discounts(api)
        self._plant_budgets(api)
        self._expire_coupons(api)
        self._plant_coupon_balances(api)

    def _plant_partner_bills(self, api: ApiData) -> None:
        """X (1.00 … 500.00) added to one component of a closed cycle's partner bill, leaving
        initial_amount_due as it is: one mismatching component. Consumption first, one per cycle;
        refunds and adjustments only when there are more plants than cycles."""
        cycles = list(self._shuffled(self.closed))
        places = [(cycle, component) for component in ("consumption", "refunds", "adjustments") for cycle in cycles]
        field_of = {"consumption": "consume_amount", "refunds": "refunds", "adjustments": "adjustments"}
        for cycle, component in places[:self.count]:
            change = self._amount("1.00", "500.00")
            bill = api.partner_bill(cycle)
            bill[field_of[component]] += change
            self._plant("TIEOUT.PARTNER_BILL", cycle, None, component, change)

    def _customers_with_lines(self, cycle: str) -> dict[str, Decimal]:
        """Customer → Σ amount_due of its lines in the cycle's bill file."""
        sums = self.lines[cycle].group_by("customer_id").agg(pl.col("amount_due").sum()).sort("customer_id")
        return dict(sums.iter_rows())

    def _plant_customer_amounts(self, api: ApiData, tied: set[tuple[str, str]]) -> None:
        """X (1.00 … 200.00) added to one monthly-sum record of a customer (and to its payment detail,
        so the record stays self-consistent)."""
        candidates = [(cycle, customer) for cycle in self.closed for customer in self._customers_with_lines(cycle)]
        for cycle, customer in self._pick(candidates):
            records = [r for r in api.customer_monthly_sums(cycle) if r["customer_id"] == customer]
            record = records[int(self.rng.integers(0, len(records)))]
            change = self._amount("1.00", "200.00")
            record["amount"] += change
            if record["account_details"]:
                detail = record["account_details"][0]
                detail["amount"] += change
            else:
                record["account_details"].append({"balance_type": "BALANCE_TYPE_CREDIT", "amount": change,
                                                  "bill_type": record["bill_type"]})
            tied.add((cycle, customer))
            self._plant("TIEOUT.CUSTOMER_AMOUNT", cycle, customer, None, change)

    def _plant_customers_missing_in_api(self, api: ApiData, tied: set[tuple[str, str]]) -> None:
        """Every monthly-sum record of a customer whose lines add up to at least 1.00 (either sign)
        dropped from a cycle."""
        candidates = [(cycle, customer, total) for cycle in self.closed
                      for customer, total in self._customers_with_lines(cycle).items()
                      if abs(total) >= 1 and (cycle, customer) not in tied]
        for cycle, customer, total in self._pick(candidates):
            records = api.customer_monthly_sums(cycle)
            records[:] = [r for r in records if r["customer_id"] != customer]
            tied.add((cycle, customer))
            self._plant("TIEOUT.CUSTOMER_MISSING_IN_API", cycle, customer, None, -total)

    def _plant_customers_missing_in_file(self, api: ApiData, tied: set[tuple[str, str]]) -> None:
        """A monthly-sum record of X (1.00 … 200.00) for a customer without lines in the cycle: a
        customer of the world when one has no lines, else a customer ID the world does not know."""
        world_customers = self.world.customers["customer_id"].to_list()
        for sequence, cycle in enumerate(self._pick(self.closed * self.count)):
            idle = [c for c in world_customers if c not in self._customers_with_lines(cycle)
                    and (cycle, c) not in tied]
            customer = idle[int(self.rng.integers(0, len(idle)))] if idle else \
                hashlib.sha256(f"unknown|{self.world.config.seed}|{cycle}|{sequence}".encode()).hexdigest()[:32]
            change = self._amount("1.00", "200.00")
            api.customer_monthly_sums(cycle).append({
                "customer_id": customer,
                "cloud_service_type": "hws.service.type.ec2",
                "cloud_service_type_name": "Elastic Cloud Server",
                "bill_type": "0",
                "charge_mode": "3",
                "amount": change,
                "debt_amount": Decimal(0),
                "adjustment_amount": Decimal(0),
                "discount_amount": Decimal(0),
                "measure_id": 1,
                "account_details": [{"balance_type": "BALANCE_TYPE_CREDIT", "amount": change, "bill_type": "0"}],
                "resource_type_code": "hws.resource.type.vm",
                "resource_type_name": "ECS",
            })
            tied.add((cycle, customer))
            self._plant("TIEOUT.CUSTOMER_MISSING_IN_FILE", cycle, customer, None, change)

    def _plant_partner_discounts(self, api: ApiData) -> None:
        """A 607 (partner-authorised) discount of X (1.00 … 50.00) on a closed cycle's New, Renew or
        Change order whose line no plant touched: in the order's amount_info.discounts (what the
        order list shows) and in its order-discounts record (ListOrderDiscounts). The bill line and
        the order's amounts stay as they are."""
        cycle_of = dict(self.world.orders.select("order_id", "bill_cycle").iter_rows())
        candidates = [order for order in api.orders
                      if cycle_of.get(order["order_id"]) in self.closed and order["order_type"] != 4
                      and order["order_id"] not in self.touched_lines and order["official_amount"] >= 5]
        candidates.sort(key=lambda order: order["order_id"])
        for order in self._pick(candidates):
            amount = self._amount("1.00", min(Decimal("50.00"), (order["official_amount"] / 2).quantize(_CENT)))
            order["amount_info"]["discounts"].append({"discount_type": PARTNER_DISCOUNT_TYPE,
                                                      "discount_amount": amount})
            item_id = api.order_line_items[order["order_id"]][0]["order_line_item_id"]
            api.order_discounts.setdefault(order["order_id"], []).append({
                "discount_id": hashlib.sha256(f"607|{order['order_id']}".encode()).hexdigest()[:20].upper(),
                "discount_value": str(amount),
                "discount_type": int(PARTNER_DISCOUNT_TYPE),
                "orders": [{"order_id": order["order_id"], "order_line_items": [{
                    "order_line_item_ids": [item_id], "discount_mode": 2,   # 2 = reduction
                    "discount_amount": amount, "discount_ratio": None}]}],
            })
            self.touched_lines.add(order["order_id"])
            self._plant("DISCOUNT.PARTNER_DISCOUNT_ON_RESALE", cycle_of[order["order_id"]], order["customer_id"],
                        order["order_id"], amount)

    def _plant_budgets(self, api: ApiData) -> None:
        """A customer that is not frozen, with a monthly budget and at least 5.00 spent this month, given
        a budget of 50–90 % of that spend (in whole dollars). (A one-time budget counts earlier months.)"""
        frozen = {c["customer_id"] for c in api.customers if c["is_frozen"]}
        spend = api.month_to_date_list_spend
        candidates = [b for b in api.budgets if b["customer_id"] not in frozen and b["budget_type"] == "MONTHLY"
                      and spend.get(b["customer_id"], Decimal(0)) >= 5]
        for budget in self._pick(candidates):
            spent = spend[budget["customer_id"]]
            amount = (spent * Decimal(str(self.rng.uniform(0.5, 0.9)))).to_integral_value(ROUND_DOWN)
            budget["budget_amount"] = max(amount, Decimal(1)).quantize(_CENT)
            self._plant("BUDGET.OVER_NOT_FROZEN", self.world.open_month, budget["customer_id"], None,
                        spent - budget["budget_amount"])

    def _expire_coupons(self, api: ApiData) -> None:
        """The API side of COUPON.USED_AFTER_EXPIRY: the customer's only used cash coupon (which the
        API built to carry exactly the planted use) expired 1–20 days before the line; any spare cash
        coupon of the customer that was valid then becomes valid only after the line."""
        for customer, trade_time, moved in self.expired_coupon_uses:
            paid_at = local_time_of(trade_time)
            cash_coupons = [c for c in api.coupons
                            if c["customer_id"] == customer and c["coupon_type"] == COUPON_TYPE_CASH]
            used = [c for c in cash_coupons if c["face_value"] - c["balance"] != 0]
            assert len(used) == 1 and used[0]["face_value"] - used[0]["balance"] == moved, (customer, used)
            expire = paid_at - dt.timedelta(days=int(self.rng.integers(1, 21)), hours=int(self.rng.integers(0, 24)))
            self._set_validity(api, used[0], expire - dt.timedelta(days=180), expire)
            for spare in cash_coupons:
                if spare is not used[0] and spare["valid_time"] <= utc_text(paid_at) < spare["expire_time"]:
                    valid = paid_at + dt.timedelta(days=1)
                    self._set_validity(api, spare, valid, max(_local_time_of_utc(spare["expire_time"]),
                                                              valid + dt.timedelta(days=180)))

    @staticmethod
    def _set_validity(api: ApiData, coupon: dict, valid: dt.datetime, expire: dt.datetime) -> None:
        coupon["valid_time"] = coupon["active_time"] = utc_text(valid)
        coupon["create_time"] = utc_text(valid - dt.timedelta(hours=2))
        coupon["expire_time"] = utc_text(expire)
        coupon["status"] = coupon_status(coupon["valid_time"], coupon["expire_time"], coupon["balance"], api.as_of_utc)

    def _plant_coupon_balances(self, api: ApiData) -> None:
        """X (30–90 % of the coupon's use, to the cent) added back to the balance of a used coupon of
        a customer whose use of that coupon type lies wholly in the closed months: the bill lines then
        show X more coupon payments than all the customer's coupons of that type ever gave."""
        closed_use: dict[tuple[str, int], Decimal] = {}
        open_use: dict[tuple[str, int], Decimal] = {}
        for uses, frames in ((closed_use, self.lines.values()), (open_use, [self._open_lines_until_now()])):
            for frame in frames:
                for coupon_type, column in COUPON_COLUMN.items():
                    for customer, amount in frame.group_by("customer_id").agg(pl.col(column).sum()).iter_rows():
                        uses[(customer, coupon_type)] = uses.get((customer, coupon_type), Decimal(0)) + amount
        candidates = []
        for coupon in api.coupons:
            key = (coupon["customer_id"], coupon["coupon_type"])
            use = coupon["face_value"] - coupon["balance"]
            if (coupon["customer_id"] not in self.coupon_customers and use >= Decimal("0.10")
                    and not open_use.get(key) and closed_use.get(key) == use):
                candidates.append(coupon)
        for coupon in self._shuffled(candidates):
            if len([p for p in self.planted if p.rule_id == "COUPON.USED_BEYOND_BALANCE"]) == self.count:
                break
            if coupon["customer_id"] in self.coupon_customers:
                continue
            use = coupon["face_value"] - coupon["balance"]
            restored = max(_CENT, (use * Decimal(str(self.rng.uniform(0.3, 0.9)))).quantize(_CENT, ROUND_DOWN))
            coupon["balance"] += restored
            coupon["status"] = coupon_status(coupon["valid_time"], coupon["expire_time"], coupon["balance"],
                                             api.as_of_utc)
            api.coupon_usage[coupon["coupon_id"]]["used_amount"] = use - restored
            self.coupon_customers.add(coupon["customer_id"])
            self._plant("COUPON.USED_BEYOND_BALANCE", None, coupon["customer_id"],
                        COUPON_TYPE_NAMES[coupon["coupon_type"]], restored)
