"""Planted anomalies and the ground truth (issue 4, docs/reconciliation.md).

A clean world must call for no finding under any rule, and a planted world for exactly its ground
truth. Both are checked with an independent reading of the rules (reconciliation_oracle.py: csv +
Decimal over the written files, plus the records the BSS API serves) over several seeds. The
planted lines, agreements and statements are also compared with the clean world of the same seed:
they differ exactly where, and by what, the ground truth says.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from billrecon import sandbox_commands
from billrecon.cli import build_parser, main
from sandbox import WorldConfig, generate_world, write_world
from sandbox.anomalies import RULE_IDS
from sandbox.formats import bill_archive_key
from tests.unit.reconciliation_oracle import PAYMENTS, WorldReading, bill_lines

SEEDS = (1, 2, 3, 4, 5)
LINE_KINDS = ("DISCOUNT.NOT_ALLOWED", "DISCOUNT.RATE_MISMATCH", "BILL.AMOUNT_DUE_IDENTITY", "BILL.PAYMENT_IDENTITY",
              "COUPON.USED_AFTER_EXPIRY")
AMOUNT_TEXT = re.compile(r"^-?\d+\.\d{2}$")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Generate-and-write worlds once per module: (seed, anomalies, extra config) → (world, folder)."""
    cache = {}

    def get(seed: int, anomalies: int, **config):
        key = (seed, anomalies, tuple(sorted(config.items())))
        if key not in cache:
            world = generate_world(WorldConfig(seed=seed, anomalies=anomalies, **config))
            folder = tmp_path_factory.mktemp(f"world-{seed}-{anomalies}")
            write_world(world, folder)
            cache[key] = (world, folder)
        return cache[key]

    return get


def ground_truth_of(folder: Path) -> list[dict]:
    return json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))


def as_findings(records: list[dict]) -> set[tuple]:
    return {(r["rule_id"], r["bill_cycle"], r["customer_id"], r["reference"], r["amount"]) for r in records}


def oracle_findings(world, folder: Path) -> set[tuple]:
    return WorldReading(folder, world.api_data, world.closed_months, world.open_month).findings()


# ------------------------------------------------------------------------------------------ clean worlds

def test_the_demo_world_calls_for_no_finding(written):
    """The demo's own world (three closed months, late in the open month): its open month refunds coupon
    money, which the API balance sees before any bill file does; the coupon rule must stay silent."""
    world, folder = written(7, 0, closed_months=3, lines_per_month=3000, usage_export_days=25)
    open_refunds = world.month_lines.build(world.open_month).filter(
        (pl.col("bill_type") == "Refund") & (pl.col("cash_coupon_amount") < 0))
    assert open_refunds.height > 0
    assert oracle_findings(world, folder) == set()


@pytest.mark.parametrize("seed", SEEDS)
def test_a_clean_world_calls_for_no_finding(written, seed):
    world, folder = written(seed, 0)
    assert ground_truth_of(folder) == [] and world.ground_truth == []
    assert oracle_findings(world, folder) == set()
    # The API's own identities hold too (schemas/rules.py: API.PARTNER_BILL_IDENTITY).
    for month in world.closed_months:
        bill = world.api_data.partner_bill(month)
        assert bill["initial_amount_due"] == bill["consume_amount"] + bill["refunds"] + bill["adjustments"]


def test_clean_worlds_have_margin_on_every_customer_service_and_cycle(written):
    """The negative-margin rule is silent for the right reason: every customer × service × cycle
    earns the partner something, and the savings plans (no discount allowed) are sold at list price."""
    margins = Counter()
    for seed in SEEDS:
        world, folder = written(seed, 0)
        reading = WorldReading(folder, world.api_data, world.closed_months, world.open_month)
        for lines in reading.lines.values():
            for line in lines:
                if line["service_type_code"] == "hws.service.type.sp":
                    assert line["discount_amount"] == 0 and line["discount_types"] == "", line
                if line["bill_type"] == "Refund":
                    assert line["discount_amount"] == 0, "a refund returns money at the price paid"
                margins[line["discount_types"]] += 1
    assert margins["605"] > 10_000 and margins["605;700"] > 100


# ------------------------------------------------------------------------------------------ planted worlds

@pytest.mark.parametrize("seed", SEEDS[:3])
def test_a_planted_world_calls_for_exactly_its_ground_truth(written, seed):
    world, folder = written(seed, 2)
    truth = ground_truth_of(folder)
    assert truth == world.ground_truth
    assert Counter(r["rule_id"] for r in truth) == {rule_id: 2 for rule_id in RULE_IDS}
    assert len(as_findings(truth)) == len(truth), "every plant is a finding of its own"
    assert oracle_findings(world, folder) == as_findings(truth)


def test_a_small_world_plants_what_it_can_and_says_so(written):
    world, folder = written(4, 3, customers=8, closed_months=1, lines_per_month=400, usage_export_days=1)
    truth = ground_truth_of(folder)
    counts = Counter(r["rule_id"] for r in truth)
    assert set(counts) <= set(RULE_IDS) and all(n <= 3 for n in counts.values())
    # One closed cycle: one plant per partner-bill component (consumption, refunds, adjustments).
    assert sorted(r["reference"] for r in truth if r["rule_id"] == "TIEOUT.PARTNER_BILL") == [
        "adjustments", "consumption", "refunds"]
    assert sum(counts.values()) < 3 * len(RULE_IDS), "some kinds have fewer places than asked for"
    assert oracle_findings(world, folder) == as_findings(truth)


def test_ground_truth_records_follow_the_contract(written):
    _, folder = written(1, 2)
    truth = ground_truth_of(folder)
    text = (folder / "ground_truth.json").read_text(encoding="utf-8")
    assert text.endswith("\n") and json.loads(text) == truth
    keys = [(r["rule_id"], r["bill_cycle"] or "", r["customer_id"] or "", r["reference"] or "", r["amount"] or "")
            for r in truth]
    assert keys == sorted(keys)
    no_cycle = {"AGREEMENT.OVERLAP", "COUPON.USED_BEYOND_BALANCE"}
    no_customer = {"TIEOUT.PARTNER_BILL", "INCENTIVE.AMOUNT_MISMATCH", "INCENTIVE.MISSING_IN_STATEMENT",
                   "INCENTIVE.EXTRA_IN_STATEMENT"}
    no_reference = {"TIEOUT.CUSTOMER_AMOUNT", "TIEOUT.CUSTOMER_MISSING_IN_API", "TIEOUT.CUSTOMER_MISSING_IN_FILE",
                    "BUDGET.OVER_NOT_FROZEN"}
    no_amount = {"AGREEMENT.OVERLAP", "AGREEMENT.EXPIRED"}
    for record in truth:
        rule = record["rule_id"]
        assert list(record) == ["rule_id", "bill_cycle", "customer_id", "reference", "amount"]
        assert (record["bill_cycle"] is None) == (rule in no_cycle), record
        assert (record["customer_id"] is None) == (rule in no_customer), record
        assert (record["reference"] is None) == (rule in no_reference), record
        assert (record["amount"] is None) == (rule in no_amount), record
        if record["amount"] is not None:
            assert AMOUNT_TEXT.match(record["amount"]) and Decimal(record["amount"]) != 0, record
        if rule == "DISCOUNT.NEGATIVE_MARGIN":
            assert Decimal(record["amount"]) < 0
        if rule == "TIEOUT.PARTNER_BILL":
            assert record["reference"] == "consumption"   # three cycles: one consumption plant each
        if rule.startswith("AGREEMENT."):
            assert re.fullmatch(r"(\*|hws\.service\.type\.\w+) / (\*|hws\.resource\.type\.[\w.]+)",
                                record["reference"])


def test_the_same_seed_plants_the_same_anomalies(written, tmp_path):
    world, folder = written(2, 2)
    write_world(generate_world(WorldConfig(seed=2, anomalies=2)), tmp_path)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    for name in files:
        assert (folder / name).read_bytes() == (tmp_path / name).read_bytes(), name
    _, other = written(3, 2)
    assert ground_truth_of(other) != ground_truth_of(folder)


# ------------------------------------------------------------------------------------------ where the plants are

def _lines_by_trade_id(world, folder: Path) -> dict[str, dict]:
    return {line["trade_id"]: line for month in world.closed_months
            for line in bill_lines(folder / bill_archive_key(month))}


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_planted_lines_differ_from_the_clean_world_only_as_the_ground_truth_says(written, seed):
    clean_world, clean_folder = written(seed, 0)
    world, folder = written(seed, 2)
    clean, planted = _lines_by_trade_id(clean_world, clean_folder), _lines_by_trade_id(world, folder)
    assert clean.keys() == planted.keys()
    changed = {trade_id for trade_id in clean if clean[trade_id] != planted[trade_id]}
    truth = [r for r in ground_truth_of(folder) if r["rule_id"] in LINE_KINDS]
    assert changed == {r["reference"] for r in truth} and len(truth) == 2 * len(LINE_KINDS)

    for record in truth:
        before, after = clean[record["reference"]], planted[record["reference"]]
        assert (after["bill_cycle"], after["customer_id"]) == (record["bill_cycle"], record["customer_id"])
        amount = Decimal(record["amount"])
        delta = {c: after[c] - before[c] for c in ("discount_amount", "amount_due", "cash_coupon_amount")}
        paid_delta = sum(after[c] for c in PAYMENTS) - sum(before[c] for c in PAYMENTS)
        rule = record["rule_id"]
        if rule == "DISCOUNT.NOT_ALLOWED":
            assert before["discount_amount"] == 0 and after["discount_amount"] == amount
            assert after["discount_types"] == "700" and delta["amount_due"] == paid_delta == -amount
        elif rule == "DISCOUNT.RATE_MISMATCH":
            assert before["discount_types"] == after["discount_types"] == "605"
            assert delta["discount_amount"] == amount >= 1 and delta["amount_due"] == paid_delta == -amount
        elif rule == "BILL.AMOUNT_DUE_IDENTITY":
            assert after["discount_types"] != "605"
            assert delta["discount_amount"] == amount and delta["amount_due"] == paid_delta == 0
        elif rule == "BILL.PAYMENT_IDENTITY":
            assert after["discount_types"] != "605"
            assert paid_delta == -amount and delta["amount_due"] == delta["discount_amount"] == 0
        else:  # COUPON.USED_AFTER_EXPIRY: part of the main payment moved to a cash coupon
            assert before["cash_coupon_amount"] == 0 and delta["cash_coupon_amount"] == amount
            assert delta["amount_due"] == paid_delta == 0


def _csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def test_planted_agreements_differ_from_the_clean_world_only_where_the_ground_truth_says(written):
    _, clean_folder = written(1, 0)
    _, folder = written(1, 2)
    truth = ground_truth_of(folder)

    def rows(base: Path) -> Counter:
        return Counter(tuple(row.values()) for row in _csv(base / "agreements/customer_discounts.csv"))

    added, removed = rows(folder) - rows(clean_folder), rows(clean_folder) - rows(folder)
    touched = {(row[0], f"{row[1]} / {row[2]}") for row in (*added, *removed)}
    margin_keys = {(r["customer_id"], f"{r['reference']} / *") for r in truth
                   if r["rule_id"] == "DISCOUNT.NEGATIVE_MARGIN"}
    agreement_keys = {(r["customer_id"], r["reference"]) for r in truth if r["rule_id"].startswith("AGREEMENT.")}
    assert touched == margin_keys | agreement_keys
    assert {row[3] for row in added if (row[0], f"{row[1]} / {row[2]}") in margin_keys} == {"0.5000", "0.0000"}


@pytest.mark.parametrize("anomalies", [0, 2])
def test_statements_pay_what_the_lines_earn_except_where_planted(written, anomalies):
    """Every statement line not planted states the performance recomputed from the bill lines and
    round_half_up(performance × rate, 2); planted ones differ from that by the ground-truth amount."""
    world, folder = written(1, anomalies)
    reading = WorldReading(folder, world.api_data, world.closed_months, world.open_month)
    truth = {(r["bill_cycle"], r["reference"]): r for r in ground_truth_of(folder)
             if r["rule_id"].startswith("INCENTIVE.")}
    statuses = set()
    for month in world.closed_months:
        performance, expected = reading.eligible_performance(month), reading.expected_incentives(month)
        stated = {row["Product Type Code"]: row for row in reading.statements[month]}
        assert all(row["Customer ID"] == "" and row["Incentive Type"] == "Monthly rebate" for row in stated.values())
        assert len({row["Statement ID"] for row in stated.values()}) == len(stated)
        statuses |= {row["Status"] for row in stated.values()}
        for service in performance.keys() | stated.keys():
            record = truth.get((month, service))
            if record is None:
                row = stated[service]
                assert Decimal(row["Performance (USD)"]) == performance[service]
                assert Decimal(row["Incentive Amount (USD)"]) == expected[service]
            elif record["rule_id"] == "INCENTIVE.MISSING_IN_STATEMENT":
                assert service not in stated and expected[service] == -Decimal(record["amount"])
            elif record["rule_id"] == "INCENTIVE.EXTRA_IN_STATEMENT":
                assert service not in performance and stated[service]["Incentive Amount (USD)"] == record["amount"]
            else:
                assert Decimal(stated[service]["Incentive Amount (USD)"]) - expected[service] == \
                    Decimal(record["amount"])
        assert "hws.service.type.sp" not in stated   # policy 2 earns nothing
    assert statuses == {"Paid", "Confirmed"}
    assert len(truth) == 3 * anomalies


# ------------------------------------------------------------------------------------------ command line

def test_generate_writes_the_ground_truth_of_its_anomalies(tmp_path, capsys):
    out = tmp_path / "world"
    assert main(["generate", "--seed", "5", "--anomalies", "1", "--months", "2", "--lines", "1500",
                 "--first-month", "2026-05", "--out", str(out)]) == 0
    truth = ground_truth_of(out)
    assert Counter(r["rule_id"] for r in truth) == {rule_id: 1 for rule_id in RULE_IDS}
    assert "planted 18 anomalies" in capsys.readouterr().out
    assert main(["generate", "--seed", "5", "--months", "1", "--lines", "300", "--first-month", "2026-05",
                 "--out", str(tmp_path / "clean")]) == 0
    assert ground_truth_of(tmp_path / "clean") == []


def test_demo_and_generate_pass_anomalies_to_the_world():
    parser = build_parser()
    assert sandbox_commands.world_config(parser.parse_args(["demo", "--anomalies", "3"])).anomalies == 3
    # the demo shows one finding of every kind unless asked for a clean world
    assert sandbox_commands.world_config(parser.parse_args(["demo"])).anomalies == 1
    assert sandbox_commands.world_config(parser.parse_args(["demo", "--anomalies", "0"])).anomalies == 0
    assert sandbox_commands.world_config(parser.parse_args(["generate", "--out", "x"])).anomalies == 0
    assert sandbox_commands.world_config(parser.parse_args(["sandbox", "serve"])).anomalies == 0
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--out", "x", "--anomalies", "-1"])
    with pytest.raises(ValueError):
        WorldConfig(anomalies=-1)
