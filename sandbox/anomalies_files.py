"""Anomalies planted in the files (sandbox/anomalies.py, steps 1 to 3): the agreements, the bill
lines of the closed months and the incentive statements.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from itertools import islice

import polars as pl

from .agreements import AgreedRates
from .anomalies_base import CENT, PlantedAnomaly, Planter
from .catalog import PROMO_DISCOUNT
from .discounts import DISCOUNT_FORBIDDEN
from .formats import CUSTOMER_DISCOUNT_COLUMNS
from .incentives import build_statement, incentive_of, statement_frame, statement_row, statement_status
from .months import add_months, date_of, month_start

NEGATIVE_MARGIN_RATE = Decimal("0.5")
# Real HUAWEI CLOUD service types the world never sells: the services of planted extra statement lines.
UNSOLD_SERVICES = ("hws.service.type.dws", "hws.service.type.mrs", "hws.service.type.dds")
EXTRA_LINE_RATE = Decimal("0.0500")

_EIGHT_PLACES = Decimal("1e-8")


def _trade_date(trade_time: str) -> dt.date:
    return dt.date.fromisoformat(trade_time[:10])



def _month_days(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of `month`."""
    return date_of(month_start(month)), date_of(month_start(add_months(month, 1))) - dt.timedelta(days=1)


class FilePlants(Planter):
    """Plants in the agreements, the bill lines and the incentive statements."""

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
            discount = max(CENT, (line[main] * Decimal(str(self.rng.uniform(0.2, 0.8)))).quantize(CENT, ROUND_DOWN))
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

    def _settle_negative_margins(self) -> None:
        """The negative-margin amounts, from the final lines and rules."""
        rates = AgreedRates(self.world.customer_discounts)
        for index, plant in enumerate(self.planted):
            if plant.rule_id == "DISCOUNT.NEGATIVE_MARGIN":
                margin = self._margin(plant.bill_cycle, plant.customer_id, plant.reference, rates)
                assert margin <= Decimal("-1.00"), plant
                self.planted[index] = PlantedAnomaly(plant.rule_id, plant.bill_cycle, plant.customer_id,
                                                     plant.reference, margin)

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
