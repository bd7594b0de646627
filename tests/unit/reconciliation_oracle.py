"""An independent reading of docs/reconciliation.md: the findings a written world calls for.

Everything on the file side is read back from the written files with `csv`, `tarfile` and
`Decimal`; the BSS API side is the records the emulator serves (`world.api_data`). No code is
shared with the sandbox's generator or planter, so a test comparing these findings with the
world's ground truth checks both: a clean world must call for none, a planted one for exactly
what `ground_truth.json` lists (five fields, amounts rounded half-up to the cent).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tarfile
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

CENT = Decimal("0.01")
EIGHT_PLACES = Decimal("1e-8")
ZERO = Decimal(0)
MONEY = ("official_amount", "discount_amount", "truncated_amount", "amount_due", "cash_amount", "credit_amount",
         "cash_coupon_amount", "voucher_amount", "stored_card_amount", "debt_amount", "writeoff_amount")
PAYMENTS = MONEY[4:]
BILL_HEADERS = {
    "Billing Cycle": "bill_cycle", "Customer ID": "customer_id", "Bill Type": "bill_type",
    "Product Type Code": "service_type_code", "Resource Type Code": "resource_type_code",
    "Order No./Transaction No.": "trade_id", "Original Order No.": "original_order_id",
    "Customer Transaction Time": "trade_time",
    "Discount Types": "discount_types", "List Price (USD)": "official_amount",
    "Discount Amount (USD)": "discount_amount", "Truncated Amount (USD)": "truncated_amount",
    "Amount Due (USD)": "amount_due", "Cash Payment (USD)": "cash_amount",
    "Monthly Settlement (USD)": "credit_amount", "Cash Coupon (USD)": "cash_coupon_amount",
    "Voucher (USD)": "voucher_amount", "Stored-Value Card (USD)": "stored_card_amount",
    "Arrears (USD)": "debt_amount", "Written-off Arrears (USD)": "writeoff_amount",
}
COUPON_COLUMNS = {4: ("cash_coupon_amount", "cash_coupon"), 1: ("voucher_amount", "voucher")}

Finding = tuple  # (rule_id, bill_cycle, customer_id, reference, amount text or None)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP) + 0


def finding(rule_id: str, cycle: str | None, customer: str | None, reference: str | None,
            amount: Decimal | None) -> Finding:
    return (rule_id, cycle, customer, reference, None if amount is None else str(cents(amount)))


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))


def read_archive(path: Path) -> list[dict[str, str]]:
    rows = []
    with tarfile.open(path, "r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            rows.extend(_csv_rows(tar.extractfile(member).read().decode("utf-8")))
    return rows


def bill_lines(path: Path) -> list[dict]:
    """Bill lines with canonical names (English headers) and Decimal money."""
    lines = []
    for row in read_archive(path):
        line = {name: row[header] for header, name in BILL_HEADERS.items()}
        for column in MONEY:
            line[column] = Decimal(line[column]) if line[column] else ZERO
        line["trade_date"] = dt.date.fromisoformat(line["trade_time"][:10])
        lines.append(line)
    return lines


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _utc_of_file_time(file_time: str) -> str:
    local = dt.datetime.strptime(file_time[:19], "%Y-%m-%d %H:%M:%S")
    return (local - dt.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _last_day(month: str) -> dt.date:
    year, mon = map(int, month.split("-"))
    return dt.date(year + mon // 12, mon % 12 + 1, 1) - dt.timedelta(days=1)


@dataclass
class Rule:
    customer_id: str
    service: str
    resource: str
    rate: Decimal
    valid_from: dt.date
    valid_to: dt.date | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.customer_id, self.service, self.resource)

    @property
    def specificity(self) -> int:
        customer, service, resource = (self.customer_id != "*", self.service != "*", self.resource != "*")
        if customer:
            return 50 if resource else 40 if service else 30
        return 25 if resource else 20 if service else 10

    def covers(self, line: dict) -> bool:
        return ((self.customer_id in ("*", line["customer_id"])) and (self.service in ("*", line["service_type_code"]))
                and (self.resource in ("*", line["resource_type_code"])))

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def read_rules(path: Path) -> list[Rule]:
    return [Rule(r["customer_id"], r["service_type_code"], r["resource_type_code"], Decimal(r["discount_rate"]),
                 _date(r["valid_from"]), _date(r["valid_to"]))
            for r in _csv_rows(path.read_text(encoding="utf-8"))]


def agreed_rate(rules_by_customer: dict[str, list[Rule]], line: dict) -> Decimal:
    """The most specific rule valid on the trade date; the later start wins a tie."""
    matching = [r for r in (*rules_by_customer.get(line["customer_id"], ()), *rules_by_customer.get("*", ()))
                if r.covers(line) and r.valid_on(line["trade_date"])]
    if not matching:
        return ZERO
    return max(matching, key=lambda r: (r.specificity, r.valid_from)).rate


def share(charge: Decimal, refunded: Decimal, original_due: Decimal) -> Decimal:
    """charge × refunded ÷ original_due, rounded half-up (away from zero) to 8 places; 0 for a free order."""
    if original_due == 0:
        return ZERO
    return (charge * refunded / original_due).quantize(EIGHT_PLACES, rounding=ROUND_HALF_UP)


class WorldReading:
    """A written world (files under `root`) and the API records served for it. `pulled_months`: the
    cycles whose orders the pipeline pulled from the API (default: every month it runs)."""

    def __init__(self, root: Path, api, closed_months: list[str], open_month: str,
                 pulled_months: list[str] | None = None):
        self.root, self.api, self.closed, self.open_month = root, api, closed_months, open_month
        self.pulled = pulled_months if pulled_months is not None else [*closed_months, open_month]
        self.lines = {m: bill_lines(root / f"customerBill/customerBill_{m.replace('-', '')}.tar.gz")
                      for m in closed_months}
        self.rules = read_rules(root / "agreements/customer_discounts.csv")
        self.rates = _csv_rows((root / "agreements/incentive_rates.csv").read_text(encoding="utf-8"))
        self.statements = {m: _csv_rows((root / f"incentives/incentive_statement_{m.replace('-', '')}.csv")
                                        .read_text(encoding="utf-8")) for m in closed_months}
        exports = sorted((root / "customerUsage").glob(f"customerUsageV2_{open_month.replace('-', '')}_*.tar.gz"))
        self.newest_export = read_archive(exports[-1]) if exports else []

    def findings(self) -> set[Finding]:
        found: set[Finding] = set()
        for check in (self.tieouts, self.discount_audit, self.refunds_of_unknown_orders, self.agreements,
                      self.incentives, self.budgets, self.coupons):
            found |= check()
        return found

    # ------------------------------------------------------------------------------ customer charges

    def rules_by_customer(self) -> dict[str, list[Rule]]:
        by_customer = defaultdict(list)
        for rule in self.rules:
            by_customer[rule.customer_id].append(rule)
        return by_customer

    def original_order(self, cycle: str, refund: dict) -> dict | None:
        """The refunded order as a line (customer, service, resource, trade date, list price, amount
        due): its Expenditure line(s) in a bill file of this cycle or an earlier one, else the API's
        order paid in a pulled cycle up to this one; None when neither has it."""
        key = (refund["customer_id"], refund["original_order_id"])
        billed = [line for month, lines in self.lines.items() if month <= cycle for line in lines
                  if line["bill_type"] == "Expenditure" and (line["customer_id"], line["trade_id"]) == key]
        if billed:
            return {**refund, "found_in": "bill_file", "trade_date": min(line["trade_date"] for line in billed),
                    "official_amount": sum((line["official_amount"] for line in billed), ZERO),
                    "amount_due": sum((line["amount_due"] for line in billed), ZERO)}
        for order in self.api.orders:
            paid = dt.datetime.strptime(order["payment_time"], "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(hours=8)
            if ((order["customer_id"], order["order_id"]) == key and order["order_type"] != 4
                    and _month_of(paid.date()) in self.pulled and _month_of(paid.date()) <= cycle):
                return {**refund, "found_in": "api_order", "trade_date": paid.date(),
                        "official_amount": Decimal(order["official_amount"]),
                        "amount_due": Decimal(order["amount_after_discount"])}
        return None

    def customer_charge(self, cycle: str, line: dict, rules_by_customer: dict[str, list[Rule]]) -> Decimal:
        """What the partner bills the customer for an Expenditure or Refund line (docs/reconciliation.md)."""
        def at_agreed_rate(priced: dict, amount: Decimal) -> Decimal:
            return (amount * (1 - agreed_rate(rules_by_customer, priced))).quantize(EIGHT_PLACES, rounding=ROUND_HALF_UP)

        if line["bill_type"] == "Expenditure":
            return at_agreed_rate(line, line["official_amount"])
        original = self.original_order(cycle, line)
        if original is not None:
            return share(at_agreed_rate(original, original["official_amount"]), line["amount_due"],
                         original["amount_due"])
        partner_rate = self.commercial_rates().get(line["service_type_code"], ZERO)
        return share(at_agreed_rate(line, line["amount_due"]), Decimal(1), 1 - partner_rate)

    def refunds_of_unknown_orders(self) -> set[Finding]:
        return {finding("REFUND.ORIGINAL_ORDER_UNKNOWN", cycle, line["customer_id"], line["original_order_id"], None)
                for cycle, lines in self.lines.items() for line in lines
                if line["bill_type"] == "Refund" and line["original_order_id"]
                and self.original_order(cycle, line) is None}

    # ------------------------------------------------------------------------------ tie-outs

    def tieouts(self) -> set[Finding]:
        found = set()
        for cycle, lines in self.lines.items():
            by_type = defaultdict(Decimal)
            for line in lines:
                by_type[line["bill_type"]] += line["amount_due"]
            bill = self.api.partner_bill(cycle)
            sides = {"consumption": (by_type["Expenditure"], bill["consume_amount"]),
                     "refunds": (by_type["Refund"], bill["refunds"]),
                     "adjustments": (by_type["Adjustment"], bill["adjustments"]),
                     "amount_due": (sum(by_type.values(), ZERO), bill["initial_amount_due"])}
            for component, (file_amount, api_amount) in sides.items():
                if cents(file_amount) != cents(api_amount):
                    found.add(finding("TIEOUT.PARTNER_BILL", cycle, None, component, api_amount - file_amount))
            file_totals, api_totals = defaultdict(Decimal), defaultdict(Decimal)
            for line in lines:
                file_totals[line["customer_id"]] += line["amount_due"]
            for record in self.api.customer_monthly_sums(cycle):
                api_totals[record["customer_id"]] += record["amount"]
            for customer in set(file_totals) | set(api_totals):
                if customer not in api_totals:
                    found.add(finding("TIEOUT.CUSTOMER_MISSING_IN_API", cycle, customer, None, -file_totals[customer]))
                elif customer not in file_totals:
                    found.add(finding("TIEOUT.CUSTOMER_MISSING_IN_FILE", cycle, customer, None, api_totals[customer]))
                elif cents(file_totals[customer]) != cents(api_totals[customer]):
                    found.add(finding("TIEOUT.CUSTOMER_AMOUNT", cycle, customer, None,
                                      api_totals[customer] - file_totals[customer]))
        return found

    # ------------------------------------------------------------------------------ discount audit

    def commercial_rates(self) -> dict[str, Decimal]:
        rates = {}
        for item in self.api.commercial_discounts["category_quoting_items"]:
            rate = 1 - Decimal(item["discount_ratio"])
            assert rates.setdefault(item["cloud_service_type"], rate) == rate, "one rate per service"
        return rates

    def discount_audit(self) -> set[Finding]:
        found = set()
        no_discount = {p["service_type_code"] for p in self.api.incentive_policies if p["allow_discount"] == "NO"}
        rates = self.commercial_rates()
        rules_by_customer = self.rules_by_customer()
        for cycle, lines in self.lines.items():
            margins = defaultdict(Decimal)
            for line in lines:
                codes = line["discount_types"].split(";") if line["discount_types"] else []
                due_gap = line["amount_due"] - (line["official_amount"] - line["discount_amount"]
                                                - line["truncated_amount"])
                pay_gap = line["amount_due"] - sum((line[c] for c in PAYMENTS), ZERO)
                key = (cycle, line["customer_id"], line["trade_id"])
                if due_gap != 0:
                    found.add(finding("BILL.AMOUNT_DUE_IDENTITY", *key, due_gap))
                if pay_gap != 0:
                    found.add(finding("BILL.PAYMENT_IDENTITY", *key, pay_gap))
                if {"607", "609"} & set(codes):
                    found.add(finding("DISCOUNT.PARTNER_DISCOUNT_ON_RESALE", *key, line["discount_amount"]))
                if line["bill_type"] == "Expenditure":
                    if line["discount_amount"] > 0 and line["service_type_code"] in no_discount:
                        found.add(finding("DISCOUNT.NOT_ALLOWED", *key, line["discount_amount"]))
                    if codes == ["605"] and due_gap == 0 and pay_gap == 0:
                        expected = line["official_amount"] * rates[line["service_type_code"]]
                        if abs(line["discount_amount"] - expected) > CENT:
                            found.add(finding("DISCOUNT.RATE_MISMATCH", *key, line["discount_amount"] - expected))
                    # on what the agreement prices: refunds mirror their original order's margin
                    charge = self.customer_charge(cycle, line, rules_by_customer)
                    margins[(line["customer_id"], line["service_type_code"])] += charge - line["amount_due"]
            for (customer, service), margin in margins.items():
                if margin < 0:
                    found.add(finding("DISCOUNT.NEGATIVE_MARGIN", cycle, customer, service, margin))
        for order in self.api.orders:
            paid = dt.datetime.strptime(order["payment_time"], "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(hours=8)
            cycle = _month_of(paid.date())
            if cycle not in self.closed:
                continue
            for discount in order["amount_info"]["discounts"]:
                if str(discount["discount_type"]) in ("607", "609"):
                    found.add(finding("DISCOUNT.PARTNER_DISCOUNT_ON_RESALE", cycle, order["customer_id"],
                                      order["order_id"], Decimal(discount["discount_amount"])))
        return found

    # ------------------------------------------------------------------------------ agreements

    def agreements(self) -> set[Finding]:
        found = set()
        by_key = defaultdict(list)
        for rule in self.rules:
            by_key[rule.key].append(rule)
        for (customer, service, resource), versions in by_key.items():
            reference = f"{service} / {resource}"
            for i, a in enumerate(versions):
                for b in versions[i + 1:]:
                    a_end, b_end = a.valid_to or dt.date.max, b.valid_to or dt.date.max
                    if a.valid_from <= b_end and b.valid_from <= a_end:
                        found.add(finding("AGREEMENT.OVERLAP", None, customer, reference, None))
            if customer == "*":
                continue
            last = max(versions, key=lambda r: r.valid_to or dt.date.max)
            if last.valid_to is None:
                continue
            for cycle, lines in self.lines.items():
                if last.valid_to <= _last_day(cycle) and any(
                        last.covers(line) and line["trade_date"] > last.valid_to for line in lines):
                    found.add(finding("AGREEMENT.EXPIRED", cycle, customer, reference, None))
        return found

    # ------------------------------------------------------------------------------ incentives

    def incentive_rate(self, policy: int, day: dt.date) -> Decimal:
        for row in self.rates:
            if (row["incentive_type"] == "Monthly rebate" and int(row["policy_code"]) == policy
                    and _date(row["valid_from"]) <= day and (not row["valid_to"] or day <= _date(row["valid_to"]))):
                return Decimal(row["rate"])
        return ZERO

    def policies(self) -> dict[str, int]:
        return {p["service_type_code"]: int(p["incentive_policy"]) for p in self.api.incentive_policies}

    def eligible_performance(self, cycle: str) -> dict[str, Decimal]:
        """Per service of policy 0, 1 or 13 with eligible lines: Σ (amount due − coupon-paid parts)
        over the cycle's Expenditure and Refund lines."""
        policy = self.policies()
        performance: dict[str, Decimal] = {}
        for line in self.lines[cycle]:
            service = line["service_type_code"]
            if line["bill_type"] in ("Expenditure", "Refund") and policy.get(service) in (0, 1, 13):
                performance[service] = performance.get(service, ZERO) + line["amount_due"] - line[
                    "cash_coupon_amount"] - line["voucher_amount"] - line["stored_card_amount"]
        return performance

    def expected_incentives(self, cycle: str) -> dict[str, Decimal]:
        policy = self.policies()
        first_day = dt.date.fromisoformat(cycle + "-01")
        return {service: cents(amount * self.incentive_rate(policy[service], first_day))
                for service, amount in self.eligible_performance(cycle).items()}

    def incentives(self) -> set[Finding]:
        found = set()
        for cycle in self.closed:
            expected = self.expected_incentives(cycle)
            stated = {row["Product Type Code"]: Decimal(row["Incentive Amount (USD)"])
                      for row in self.statements[cycle]
                      if row["Reconciliation Period"] == cycle and row["Incentive Type"] == "Monthly rebate"
                      and not row["Customer ID"]}
            for service in set(expected) | set(stated):
                if service not in stated:
                    found.add(finding("INCENTIVE.MISSING_IN_STATEMENT", cycle, None, service, -expected[service]))
                elif service not in expected:
                    found.add(finding("INCENTIVE.EXTRA_IN_STATEMENT", cycle, None, service, stated[service]))
                elif stated[service] != expected[service]:
                    found.add(finding("INCENTIVE.AMOUNT_MISMATCH", cycle, None, service,
                                      stated[service] - expected[service]))
        return found

    # ------------------------------------------------------------------------------ budgets and coupons

    def month_to_date_spend(self) -> dict[str, Decimal]:
        spend = defaultdict(Decimal)
        for row in self.newest_export:
            spend[row["Customer ID"]] += Decimal(row["List Price (USD)"])
        return spend

    def budgets(self) -> set[Finding]:
        spend = self.month_to_date_spend()
        frozen = {c["customer_id"] for c in self.api.customers if c["is_frozen"]}
        # a one-time (PACKAGE) budget counts every month since it was set: the API's used amount
        used = {b["customer_id"]: b["used_amount"] if b["budget_type"] == "PACKAGE" else spend.get(b["customer_id"], ZERO)
                for b in self.api.budgets}
        return {finding("BUDGET.OVER_NOT_FROZEN", self.open_month, b["customer_id"], None,
                        used[b["customer_id"]] - b["budget_amount"])
                for b in self.api.budgets
                if used[b["customer_id"]] >= b["budget_amount"] and b["customer_id"] not in frozen}

    def coupons(self) -> set[Finding]:
        found = set()
        held = defaultdict(list)
        for coupon in self.api.coupons:
            held[(coupon["customer_id"], coupon["coupon_type"])].append(coupon)
        paid = defaultdict(Decimal)
        for cycle, lines in self.lines.items():
            for line in lines:
                for coupon_type, (column, _) in COUPON_COLUMNS.items():
                    if line[column] == 0:
                        continue
                    key = (line["customer_id"], coupon_type)
                    paid[key] += line[column]
                    when = _utc_of_file_time(line["trade_time"])
                    if not any(c["valid_time"] <= when < c["expire_time"] for c in held[key]):
                        found.add(finding("COUPON.USED_AFTER_EXPIRY", cycle, line["customer_id"], line["trade_id"],
                                          line[column]))
        for (customer, coupon_type), amount in paid.items():
            used = sum((c["face_value"] - c["balance"] for c in held[(customer, coupon_type)]), ZERO)
            if amount > used:
                found.add(finding("COUPON.USED_BEYOND_BALANCE", None, customer, COUPON_COLUMNS[coupon_type][1],
                                  amount - used))
        return found
