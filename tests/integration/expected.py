"""An independent computation of the month close from the generated CSV files: plain Python,
`csv` and `Decimal`, sharing no code with the pipeline."""

from __future__ import annotations

import csv
import io
import tarfile
from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sandbox.formats import header_names
from tests.unit.reconciliation_oracle import share

ZERO = Decimal(0)
EIGHT_PLACES = Decimal("0.00000001")


def read_bill_lines(archive: Path, language: str = "en") -> list[dict[str, str]]:
    by_header = {header: name for name, header in header_names(language).items()}
    rows = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            text = tar.extractfile(member).read().decode("utf-8-sig")
            for row in csv.DictReader(io.StringIO(text, newline="")):
                rows.append({by_header[k]: v for k, v in row.items()})
    return rows


def member_row_counts(archive: Path) -> dict[str, int]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: sum(1 for _ in csv.reader(io.StringIO(tar.extractfile(m).read().decode("utf-8-sig"),
                                                              newline=""))) - 1
                for m in tar.getmembers()}


def read_rules(path: Path) -> list[dict]:
    rules = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            rules.append({
                **row,
                "discount_rate": Decimal(row["discount_rate"]),
                "valid_from": date.fromisoformat(row["valid_from"]),
                "valid_to": date.fromisoformat(row["valid_to"]) if row["valid_to"] else date.max,
            })
    return rules


def _specificity(rule: dict) -> int:
    customer, service, resource = (rule["customer_id"] != "*", rule["service_type_code"] != "*",
                                   rule["resource_type_code"] != "*")
    if customer and resource:
        return 50
    if customer and service:
        return 40
    if customer:
        return 30
    if resource:
        return 25
    return 20 if service else 10


def agreed_rate(rules: list[dict], line: dict) -> Decimal:
    local_day = datetime.strptime(line["trade_time"][:19], "%Y-%m-%d %H:%M:%S").date()
    matching = [r for r in rules
                if r["customer_id"] in ("*", line["customer_id"])
                and r["service_type_code"] in ("*", line["service_type_code"])
                and r["resource_type_code"] in ("*", line["resource_type_code"])
                and r["valid_from"] <= local_day <= r["valid_to"]]
    if not matching:
        return ZERO
    best = max(matching, key=lambda r: (_specificity(r), r["valid_from"]))
    return best["discount_rate"]


def money(text: str) -> Decimal:
    return Decimal(text) if text else ZERO


def at_agreed_rate(rules: list[dict], line: dict, amount: Decimal) -> Decimal:
    return (amount * (1 - agreed_rate(rules, line))).quantize(EIGHT_PLACES, rounding=ROUND_HALF_UP)


def customer_charge(line: dict, rules: list[dict], orders: dict[tuple[str, str], dict]) -> Decimal:
    """An Expenditure line at the agreed rate of its date; a Refund line as that share of its original
    order's charge (at the order's date) that HUAWEI CLOUD refunds of the order's amount due. Without
    the BSS API there is no commercial discount to gross up with: a refund of an order not in `orders`
    is billed as its amount due at the refund date's rate."""
    if line["bill_type"] in ("Expenditure", "消费"):
        return at_agreed_rate(rules, line, money(line["official_amount"]))
    original = orders.get((line["customer_id"], line["original_order_id"]))
    if original is None:
        return at_agreed_rate(rules, line, money(line["amount_due"]))
    return share(at_agreed_rate(rules, original, money(original["official_amount"])), money(line["amount_due"]),
                 money(original["amount_due"]))


def expected_expenditure(lines: list[dict], rules: list[dict],
                         earlier_lines: list[dict] = ()) -> dict[tuple[str, str], dict[str, Decimal]]:
    """(customer, service) → the mart's money columns and line count of `lines` (one cycle), its
    refunds' original orders looked up in `lines` and `earlier_lines` (the loaded earlier cycles)."""
    orders = {(line["customer_id"], line["trade_id"]): line for line in (*earlier_lines, *lines)
              if line["bill_type"] in ("Expenditure", "消费")}
    out: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in lines:
        totals = out[(line["customer_id"], line["service_type_code"])]
        totals["line_count"] += 1
        kind = line["bill_type"]
        if kind in ("Expenditure", "消费"):
            for column in ("official_amount", "discount_amount", "amount_due"):
                totals[column] += money(line[column])
            totals["coupon_paid_amount"] += (money(line["cash_coupon_amount"]) + money(line["voucher_amount"])
                                             + money(line["stored_card_amount"]))
        elif kind in ("Refund", "退款"):
            totals["refund_amount"] += money(line["amount_due"])
        else:
            totals["adjustment_amount"] += money(line["amount_due"])
        if kind not in ("Adjustment", "调账"):
            totals["customer_charge_amount"] += customer_charge(line, rules, orders)
    for totals in out.values():
        totals["margin_amount"] = totals["customer_charge_amount"] - (totals["amount_due"] + totals["refund_amount"])
    return out
