"""A plain pandas implementation of `marts.customer_monthly_expenditure`, for comparison only.

This is what a careful analyst would write with pandas alone, from the same files billrecon
reads: the monthly bill archive (`customerBill_YYYYMM.tar.gz`, read member by member with
`tarfile` in stream mode and `pandas.read_csv`, default C parser), the bill archives of the earlier
months billrecon has loaded (where a refund's original order may be billed), and the partner's
`agreements/customer_discounts.csv`. It computes the mart's core columns as the README and
docs/reconciliation.md define them, per bill_cycle × customer × service type:

- `line_count` (every line), and over Expenditure lines `official_amount`, `discount_amount`,
  `amount_due`, `coupon_paid_amount` (cash coupon + voucher + stored-value card);
- `refund_amount`, `adjustment_amount`: Σ amount due of Refund, of Adjustment lines;
- `customer_charge_amount`: on an Expenditure line, list price × (1 − the agreed discount rate on
  the line's GMT+8 trade date), rounded to 8 places half away from zero, as DuckDB rounds
  `DECIMAL(37,14)` → `DECIMAL(20,8)`; on a Refund line, the refunded share of its original order's
  customer charge (below); nothing on Adjustment lines. The rate comes from the most specific
  matching rule (customer+resource > customer+service > customer > *+resource > *+service > *,
  ties to the later `valid_from`, then to the rule's label), dates inclusive, no rule = rate 0;
- `customer_refund_amount`: the Refund lines' part of the customer charge;
- `margin_amount` = customer charge − (amount due + refunds);
- `unmatched_agreement_line_count`: Expenditure and Refund lines that no rule matches.

Refunds ("Refunds priced from the original order" in docs/reconciliation.md). The original order
is the Expenditure lines of the same customer whose order number is the refund's original order
number, in this month's file or an earlier one given (their sums, the earliest trade date). A
refund gives back original charge × (refund amount due ÷ original amount due), the charge at the
agreement of the original order's date, the division exact on 1e-8 units and rounded half away
from zero; a free original refunds 0. An original in no bill file is unknown here: the pandas mart
reads no BSS API, so it has neither the API's orders nor the commercial discount, and the refund's
amount due is its list price at the agreement of the refund's own date — what billrecon does
without the API, as in the benchmark (the world's earlier months, if any, are not loaded there).

It is not a strawman. Money is exact: amounts are parsed to float64 and rounded to int64 units of
1e-8 USD (exact for |amount| < 10 million USD per line, which is asserted), summed as integers,
and turned into `Decimal` only at the end; the customer charge is computed in integers too (a
refund's share, on the few refund lines, in Python integers). The agreement lookup runs on the
distinct (customer, service, resource type, agreement date) keys, not on every line. What it
skips, because the comparison is about the mart: header aliases, validation, quarantine, lineage
and reports. It does no validation, so it only equals billrecon on a month with no quarantined
rows, which the benchmark checks (`verify_step`).

pandas is the only engine used (pyarrow only as pandas 3's default string storage).
"""

from __future__ import annotations

import tarfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

# English file headers (docs/formats.md#bill-line-columns) of the columns the mart needs → canonical names.
BILL_HEADERS = {
    "Billing Cycle": "bill_cycle",
    "Customer ID": "customer_id",
    "Customer Name": "customer_name",
    "Partner ID": "partner_id",
    "Bill Type": "bill_type",
    "Product Type Code": "service_type_code",
    "Resource Type Code": "resource_type_code",
    "Order No./Transaction No.": "trade_id",
    "Original Order No.": "original_order_id",
    "Customer Transaction Time": "trade_time",
    "List Price (USD)": "official_amount",
    "Discount Amount (USD)": "discount_amount",
    "Amount Due (USD)": "amount_due",
    "Cash Coupon (USD)": "cash_coupon_amount",
    "Voucher (USD)": "voucher_amount",
    "Stored-Value Card (USD)": "stored_card_amount",
}
MONEY = ("official_amount", "discount_amount", "amount_due", "cash_coupon_amount", "voucher_amount",
         "stored_card_amount")
# a line's agreement is looked up by these; a refund's agreement_date is its original order's trade date
KEY = ["customer_id", "service_type_code", "resource_type_code", "agreement_date"]
GROUP = ["bill_cycle", "customer_id", "service_type_code"]
ORDER = ["customer_id", "trade_id"]

UNITS = 100_000_000          # money is held as int64 units of 1e-8
RATE_UNITS = 1_000_000       # discount rates as int64 units of 1e-6 (DECIMAL(9,6))
EXACT_LIMIT = 10_000_000.0   # |amount| below which float64 → 1e-8 units rounds exactly
MART_MONEY = ("official_amount", "discount_amount", "amount_due", "coupon_paid_amount", "refund_amount",
              "adjustment_amount", "customer_charge_amount", "customer_refund_amount", "margin_amount")
MART_COUNTS = ("line_count", "unmatched_agreement_line_count")


def money_units(text: pd.Series) -> np.ndarray:
    """Decimal text (empty = null = 0) → int64 units of 1e-8, exactly."""
    values = pd.to_numeric(text).fillna(0.0).to_numpy(dtype=np.float64)
    if values.size and np.abs(values).max() >= EXACT_LIMIT:
        raise ValueError("an amount of 10 million USD or more per line: float64 parsing would not be exact")
    return np.rint(values * UNITS).astype(np.int64)


def read_bill_lines(archive: Path) -> pd.DataFrame:
    """Every bill line of the archive: the needed columns, money in int64 units."""
    frames = []
    with tarfile.open(archive, mode="r|gz") as tar:
        for info in tar:
            if not info.isfile() or not info.name.endswith(".csv"):
                continue
            raw = pd.read_csv(tar.extractfile(info), usecols=list(BILL_HEADERS), dtype=str)
            frame = raw.rename(columns=BILL_HEADERS)
            for column in MONEY:
                frame[column] = money_units(frame[column])
            # times are GMT+8 wall clock ('2026-10-28 09:00:00 GMT+08:00'): the date is the first 10 characters
            frame["trade_date"] = frame.pop("trade_time").str.slice(0, 10)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def rule_label(rule: pd.Series) -> str:
    """The rule's label as billrecon words it (docs/month_close_pack.md, "Agreement applied"): the
    last tie-break between equally specific rules of the same `valid_from`."""
    who = "every customer" if rule["customer_id"] == "*" else f"customer {rule['customer_id']}"
    if rule["service_type_code"] == "*" and rule["resource_type_code"] == "*":
        scope = "all services"
    else:
        scope = ", ".join(([f"service {rule['service_type_code']}"] if rule["service_type_code"] != "*" else [])
                          + ([f"resource type {rule['resource_type_code']}"]
                             if rule["resource_type_code"] != "*" else []))
    percent = str(Decimal(int(rule["rate"])).scaleb(-4).quantize(Decimal("0.0001"))).rstrip("0").rstrip(".")
    until = f" to {rule['valid_to']}" if isinstance(rule["valid_to"], str) else ""
    return f"{who}, {scope}: {percent} % off, from {rule['valid_from']}{until}"


def read_rules(path: Path) -> pd.DataFrame:
    """The partner's discount agreements with their specificity (as core.customer_discount_rule)."""
    rules = pd.read_csv(path, dtype=str)
    rules["rate"] = np.rint(pd.to_numeric(rules.pop("discount_rate")).to_numpy() * RATE_UNITS).astype(np.int64)
    rules["label"] = rules.apply(rule_label, axis=1) if len(rules) else pd.Series(dtype=str)
    rules["valid_to"] = rules["valid_to"].fillna("9999-12-31")
    customer = rules["customer_id"] != "*"
    service = rules["service_type_code"] != "*"
    resource = rules["resource_type_code"] != "*"
    rules["specificity"] = np.select(
        [customer & resource, customer & service, customer, resource, service], [50, 40, 30, 25, 20], 10)
    return rules


def agreed_rates(keys: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """For each distinct line key, the rate of the most specific rule in force on its agreement date."""
    wildcard = rules[["customer_id", "service_type_code", "resource_type_code"]] == "*"
    candidates = []
    for pattern, group in rules.groupby([wildcard[c] for c in wildcard.columns]):
        on = [c for c, is_wild in zip(wildcard.columns, pattern) if not is_wild]
        right = group[on + ["rate", "specificity", "valid_from", "valid_to", "label"]]
        matched = keys.merge(right, on=on) if on else keys.merge(right, how="cross")
        in_force = ((matched["valid_from"] <= matched["agreement_date"])
                    & (matched["agreement_date"] <= matched["valid_to"]))
        candidates.append(matched.loc[in_force, KEY + ["rate", "specificity", "valid_from", "label"]])
    found = pd.concat(candidates, ignore_index=True)
    found = found.sort_values(["specificity", "valid_from", "label"], ascending=[False, False, True], kind="stable")
    return found.drop_duplicates(KEY, keep="first")[KEY + ["rate"]]


def customer_charge_units(official: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """official × (1 − rate) in 1e-8 units, rounded half away from zero, without int64 overflow."""
    keep = RATE_UNITS - rate                      # 0 … 1e6
    magnitude = np.abs(official)
    whole, part = np.divmod(magnitude, RATE_UNITS)
    rounded = whole * keep + (part * keep + RATE_UNITS // 2) // RATE_UNITS
    return np.sign(official) * rounded


def original_orders(refunds: pd.DataFrame, billed: list[pd.DataFrame]) -> pd.DataFrame:
    """Per (customer, order number) that a refund names: the order's Expenditure lines in the bill
    files, summed (an order billed in several lines is refunded as a whole), with its first trade date."""
    wanted = refunds[["customer_id", "original_order_id"]].dropna().drop_duplicates()
    wanted = wanted.rename(columns={"original_order_id": "trade_id"})
    columns = ORDER + ["trade_date", "official_amount", "amount_due"]
    lines = pd.concat([frame.loc[frame["bill_type"] == "Expenditure", columns] for frame in billed],
                      ignore_index=True).merge(wanted, on=ORDER)
    orders = lines.groupby(ORDER, sort=False).agg(
        original_date=("trade_date", "min"), original_official=("official_amount", "sum"),
        original_due=("amount_due", "sum")).reset_index().rename(columns={"trade_id": "original_order_id"})
    # nullable integers: the refund lines' left merge keeps the sums exact (float64 would not, past 2**53 units)
    return orders.astype({"original_official": "Int64", "original_due": "Int64"})


def refund_share_units(charge: int, refunded: int, original_due: int) -> int:
    """charge × refunded ÷ original_due on 1e-8 units, rounded half away from zero (0 for a free order)."""
    if original_due == 0:
        return 0
    sign = (charge > 0) - (charge < 0)
    sign *= ((refunded > 0) - (refunded < 0)) * ((original_due > 0) - (original_due < 0))
    return sign * ((2 * abs(charge * refunded) + abs(original_due)) // (2 * abs(original_due)))


def build_mart(archive: Path, discounts_csv: Path, history: tuple[Path, ...] = ()) -> pd.DataFrame:
    """marts.customer_monthly_expenditure (core columns) of the archive's month, money as Decimal.

    `history`: the bill archives of earlier months billrecon has loaded, where a refund of this
    month may find its original order."""
    lines = read_bill_lines(archive)
    rules = read_rules(discounts_csv)
    refund = (lines["bill_type"] == "Refund").to_numpy()
    originals = original_orders(lines[refund], [lines, *(read_bill_lines(path) for path in history)])
    lines = lines.drop(columns="trade_id")
    # the few refund lines look up their original order; positions index `lines` (a RangeIndex throughout)
    refund_rows = np.flatnonzero(refund)
    priced = lines.iloc[refund_rows][["customer_id", "original_order_id"]].merge(
        originals, on=["customer_id", "original_order_id"], how="left")
    has_original = priced["original_date"].notna().to_numpy()
    found_rows, known = refund_rows[has_original], priced[has_original]
    lines["agreement_date"] = lines["trade_date"]
    lines.loc[found_rows, "agreement_date"] = known["original_date"].to_numpy()
    keys = lines[KEY].drop_duplicates()
    lines = lines.merge(agreed_rates(keys, rules), on=KEY, how="left")
    has_rule = lines["rate"].notna().to_numpy()
    rate = lines["rate"].fillna(0).to_numpy(dtype=np.int64)

    bill_type = lines["bill_type"]
    expenditure = (bill_type == "Expenditure").to_numpy()
    adjustment = (bill_type == "Adjustment").to_numpy()
    zero = np.int64(0)
    coupon = lines["cash_coupon_amount"] + lines["voucher_amount"] + lines["stored_card_amount"]
    amount_due = lines["amount_due"].to_numpy()
    charge = np.where(expenditure, customer_charge_units(lines["official_amount"].to_numpy(), rate), zero)
    # an unknown original: the refund's amount due taken as its list price (no commercial discount to gross up with)
    unknown = refund_rows[~has_original]
    charge[unknown] = customer_charge_units(amount_due[unknown], rate[unknown])
    original_charge = customer_charge_units(known["original_official"].to_numpy(dtype=np.int64), rate[found_rows])
    charge[found_rows] = [refund_share_units(int(c), int(r), int(d)) for c, r, d in zip(
        original_charge, amount_due[found_rows], known["original_due"].to_numpy(dtype=np.int64))]
    measures = pd.DataFrame({
        "official_amount": np.where(expenditure, lines["official_amount"], zero),
        "discount_amount": np.where(expenditure, lines["discount_amount"], zero),
        "amount_due": np.where(expenditure, lines["amount_due"], zero),
        "coupon_paid_amount": np.where(expenditure, coupon, zero),
        "refund_amount": np.where(refund, lines["amount_due"], zero),
        "adjustment_amount": np.where(adjustment, lines["amount_due"], zero),
        "customer_charge_amount": charge,
        "customer_refund_amount": np.where(refund, charge, zero),
        "unmatched_agreement_line_count": (~has_rule & ~adjustment).astype(np.int64),
    })
    frame = pd.concat([lines[GROUP + ["customer_name", "partner_id"]], measures], axis=1)
    grouped = frame.groupby(GROUP, sort=True, dropna=False)
    mart = grouped.agg(
        customer_name=("customer_name", "max"),
        partner_id=("partner_id", "max"),
        line_count=("official_amount", "size"),
        **{column: (column, "sum") for column in measures.columns},
    ).reset_index()
    mart["margin_amount"] = mart["customer_charge_amount"] - (mart["amount_due"] + mart["refund_amount"])
    for column in MART_MONEY:
        mart[column] = [Decimal(int(v)).scaleb(-8) for v in mart[column]]
    return mart


def mart_totals(mart: pd.DataFrame) -> dict[str, Decimal]:
    return {column: sum(mart[column], Decimal(0)) for column in MART_MONEY}


def pandas_step(args: dict) -> dict:
    """Child-process entry: args = {"world": DIR, "out": PARQUET, "history": [ARCHIVE, …] (optional)};
    builds the mart of the benchmark month and saves it."""
    from bench.common import DISCOUNTS_KEY, bill_key

    world = Path(args["world"])
    mart = build_mart(world / bill_key(), world / DISCOUNTS_KEY, tuple(Path(p) for p in args.get("history", ())))
    out = Path(args["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    mart.to_parquet(out, index=False)
    return {"mart_rows": len(mart), "bill_lines": int(mart["line_count"].sum()),
            "totals": {k: str(v) for k, v in mart_totals(mart).items()}}


def verify_step(args: dict) -> dict:
    """Child-process entry: compare the pandas mart with billrecon's warehouse, row by row.

    args = {"pandas_mart": PARQUET, "warehouse": DUCKDB FILE, "bill_cycle": "YYYY-MM"}.
    """
    import duckdb

    con = duckdb.connect(args["warehouse"], read_only=True)
    parquet = str(args["pandas_mart"]).replace("'", "''")  # a DDL statement takes no parameters
    con.execute(f"create temp view pandas_mart as select * from read_parquet('{parquet}')")
    cycle = args["bill_cycle"]
    totals = {}
    for column in MART_MONEY:
        warehouse_total, pandas_total = con.execute(
            f"""select (select coalesce(sum({column}), 0) from marts.customer_monthly_expenditure
                        where bill_cycle = $c),
                       (select coalesce(sum({column}), 0) from pandas_mart where bill_cycle = $c)""",
            {"c": cycle}).fetchone()
        totals[column] = {"billrecon": str(warehouse_total), "pandas": str(pandas_total),
                          "equal": warehouse_total == pandas_total}
    compared = " or ".join(f"w.{c} is distinct from p.{c}" for c in (*MART_MONEY, *MART_COUNTS))
    differing_rows = con.execute(
        f"""select count(*) from (select * from marts.customer_monthly_expenditure where bill_cycle = $c) w
            full join (select * from pandas_mart where bill_cycle = $c) p
              using (bill_cycle, customer_id, service_type_code)
            where {compared}""", {"c": cycle}).fetchone()[0]
    quarantined = con.execute(
        "select count(*) from audit.quarantine where source = 'customerBill' and bill_cycle = ?", [cycle]
    ).fetchone()[0]
    # where billrecon found the refunds' original orders: the pandas mart reads no API, so an
    # 'api_order' here (or a commercial discount) is a warehouse it cannot mirror
    refund_originals = dict(con.execute(
        """select original_found_in, count(*) from core.refund_original_order where bill_cycle = ?
           group by all order by all""", [cycle]).fetchall())
    con.close()
    return {"totals": totals, "differing_rows": differing_rows, "quarantined_rows": quarantined,
            "refund_originals": refund_originals,
            "equal": differing_rows == 0 and all(t["equal"] for t in totals.values())}
