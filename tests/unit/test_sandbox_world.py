"""The synthetic world and its files: determinism, the line identities of docs/formats.md checked on
the CSV text with Decimal, member layout, headers, quoting, agreements and usage exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tarfile
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sandbox import BILL_LINE_COLUMNS, USAGE_COLUMNS, WorldConfig, generate_world, header_names, write_world
from sandbox.formats import bill_archive_key, usage_archive_key
from sandbox.money import decimal_to_units

SMALL = WorldConfig(member_rows=700)
TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} GMT\+08:00$")
MONEY = ("official_amount", "discount_amount", "truncated_amount", "amount_due", "cash_amount", "credit_amount",
         "cash_coupon_amount", "voucher_amount", "stored_card_amount", "debt_amount", "writeoff_amount")
PAYMENTS = MONEY[4:]


def read_members(path: Path) -> list[tuple[str, list[str], list[list[str]]]]:
    """(member name, header, data rows) of every CSV member of a .tar.gz, parsed with the csv module."""
    members = []
    with tarfile.open(path, "r:gz") as tar:
        for info in tar.getmembers():
            text = tar.extractfile(info).read().decode("utf-8")
            rows = list(csv.reader(io.StringIO(text, newline="")))
            members.append((info.name, rows[0], rows[1:]))
    return members


def read_lines(path: Path) -> list[dict[str, str]]:
    """All data rows of an archive as dicts keyed by canonical column name (English headers)."""
    canonical = {header: name for name, header in header_names("en").items()}
    lines = []
    for _, header, rows in read_members(path):
        names = [canonical[h] for h in header]
        lines.extend(dict(zip(names, row)) for row in rows)
    return lines


def all_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world():
    return generate_world(SMALL)


@pytest.fixture(scope="module")
def written(world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(world, out)
    return out


@pytest.fixture(scope="module")
def file_lines(world, written) -> dict[str, list[dict[str, str]]]:
    return {month: read_lines(written / bill_archive_key(month)) for month in world.closed_months}


# ------------------------------------------------------------------------------------------ determinism

def test_same_seed_gives_byte_identical_files(written, tmp_path):
    write_world(generate_world(SMALL), tmp_path)
    first, second = all_bytes(written), all_bytes(tmp_path)
    assert list(first) == list(second)
    for key in first:
        assert first[key] == second[key], key


def test_different_seed_gives_different_files(written, tmp_path):
    other = generate_world(WorldConfig(seed=8, member_rows=700))
    write_world(other, tmp_path)
    key = bill_archive_key(other.closed_months[0])
    assert (written / key).read_bytes() != (tmp_path / key).read_bytes()
    assert read_lines(written / key)[0] != read_lines(tmp_path / key)[0]


def test_layout_of_written_files(world, written):
    expected = {bill_archive_key(m) for m in world.closed_months}
    expected |= {usage_archive_key(m, d) for m, d in world.usage_exports}
    expected |= {"agreements/customer_discounts.csv", "agreements/incentive_rates.csv",
                 "agreements/chart_of_accounts.csv", "ground_truth.json"}
    expected |= {f"incentives/incentive_statement_{m.replace('-', '')}.csv" for m in world.closed_months}
    assert set(all_bytes(written)) == expected
    assert world.closed_months == ["2026-08", "2026-09", "2026-10"]
    assert world.open_month == "2026-11"
    assert sorted(world.usage_exports) == [("2026-10", "20261101")] + [
        ("2026-11", f"202611{day:02d}") for day in range(2, 7)]


# ------------------------------------------------------------------------------------------ line identities

def test_every_line_obeys_the_identities_exactly(file_lines):
    checked = 0
    for month, lines in file_lines.items():
        assert lines, month
        for line in lines:
            money = {name: Decimal(line[name]) for name in MONEY}
            for name, value in money.items():
                assert -value.as_tuple().exponent <= 8, (name, line[name])
                assert "e" not in line[name].lower()
            due = money["amount_due"]
            assert due == money["official_amount"] - money["discount_amount"] - money["truncated_amount"], line
            assert due == sum(money[name] for name in PAYMENTS), line
            if line["bill_type"] == "Refund":
                assert all(value <= 0 for value in money.values()), line
                assert line["original_order_id"], line
                assert line["order_type"] == "Unsubscribe"
            elif line["bill_type"] == "Expenditure":
                assert all(value >= 0 for value in money.values()), line
                assert not line["original_order_id"]
            else:
                assert line["bill_type"] == "Adjustment"
                assert line["order_type"] == "Fee adjustment"
            checked += 1
    assert checked > 5000


def test_lines_belong_to_their_cycle(file_lines):
    spill_over = 0
    for month, lines in file_lines.items():
        first = dt.datetime.strptime(month + "-01", "%Y-%m-%d")
        next_first = (first + dt.timedelta(days=32)).replace(day=1)
        for line in lines:
            assert line["bill_cycle"] == month
            assert TIME_PATTERN.match(line["trade_time"]), line["trade_time"]
            when = dt.datetime.strptime(line["trade_time"][:19], "%Y-%m-%d %H:%M:%S")
            # Domain §4.7: usage ending by 23:59:59 on the 1st of the next month is still this cycle.
            assert first <= when < next_first + dt.timedelta(days=1), line
            if when >= next_first:
                assert line["billing_mode"] == "1", line
                spill_over += 1
    assert spill_over > 0


def test_trade_ids_are_unique_and_pay_per_use_lines_have_no_order_fields(file_lines):
    ids = Counter(line["trade_id"] for lines in file_lines.values() for line in lines)
    assert ids.most_common(1)[0][1] == 1
    for lines in file_lines.values():
        for line in lines:
            if line["billing_mode"] == "1" and line["bill_type"] == "Expenditure":
                assert line["order_type"] == "" and line["period_num"] == "" and line["period_unit"] == ""
                assert line["usage_type"] and line["usage_unit"] and Decimal(line["usage_amount"]) > 0
            if line["order_type"] in ("New", "Renew", "Change"):
                assert line["trade_id"].startswith("CS")
                assert line["period_unit"] in ("Month", "Year") and int(line["period_num"]) >= 1
                assert line["usage_amount"] == ""


def test_refunds_point_at_an_earlier_new_or_renew_order(file_lines):
    orders = {}
    for month, lines in file_lines.items():
        for line in lines:
            if line["order_type"] in ("New", "Renew"):
                orders[line["trade_id"]] = (month, line)
    refunds = [(month, line) for month, lines in file_lines.items() for line in lines
               if line["bill_type"] == "Refund"]
    assert refunds
    for month, refund in refunds:
        assert refund["original_order_id"] in orders, refund
        original_month, original = orders[refund["original_order_id"]]
        assert original_month <= month
        assert original["customer_id"] == refund["customer_id"]
        assert original["resource_id"] == refund["resource_id"]
        assert original["trade_time"] < refund["trade_time"]
        assert -Decimal(refund["official_amount"]) <= Decimal(original["official_amount"])
        # what HUAWEI CLOUD refunds is a share of what it charged (the customer's refund mirrors it)
        assert Decimal(original["amount_due"]) >= -Decimal(refund["amount_due"]) >= 0


def test_the_world_looks_like_a_partner_bill(world, file_lines):
    lines = [line for month_lines in file_lines.values() for line in month_lines]
    modes = Counter(line["billing_mode"] for line in lines)
    assert {"0", "1"} <= set(modes) and modes["1"] > modes["0"]
    order_types = Counter(line["order_type"] for line in lines)
    assert {"New", "Renew", "Change", "Unsubscribe", "Fee adjustment"} <= set(order_types)
    adjustments = [Decimal(line["amount_due"]) for line in lines if line["bill_type"] == "Adjustment"]
    assert min(adjustments) < 0 < max(adjustments)
    discount_types = {code for line in lines for code in line["discount_types"].split(";") if code}
    assert {"605", "700"} <= discount_types and discount_types <= {"605", "200", "700"}
    for line in lines:
        assert (line["discount_types"] == "") == (Decimal(line["discount_amount"]) == 0), line
    assert any(Decimal(line["truncated_amount"]) > 0 for line in lines)
    for instrument in ("cash_amount", "credit_amount", "cash_coupon_amount", "voucher_amount", "stored_card_amount"):
        assert any(Decimal(line[instrument]) > 0 for line in lines), instrument
    assert len({line["service_type_code"] for line in lines}) >= 8
    assert len({line["region_code"] for line in lines}) >= 5
    assert {"Hour", "GB", "GB-hour", "Mbit/s-hour"} <= {line["usage_unit"] for line in lines}
    assert len({line["customer_id"] for line in lines}) == world.config.customers


def test_customers_are_spread_over_the_distributor_and_its_resellers(world, file_lines):
    resellers = dict(zip(world.resellers["reseller_id"], world.resellers["reseller_name"]))
    owners = Counter()
    for lines in file_lines.values():
        for line in lines:
            if line["partner_id"] == world.partner_id:
                assert line["partner_name"] == world.partner_name
                owners["partner"] += 1
            else:
                assert resellers[line["partner_id"]] == line["partner_name"]
                owners["reseller"] += 1
    assert owners["partner"] > 0 and owners["reseller"] > 0
    direct = world.customers.filter(pl.col("indirect_partner_id").is_null())
    assert (direct["partner_id"] == world.partner_id).all()
    assert (world.customers["association_type"] == "resale").all()


# ------------------------------------------------------------------------------------------ CSV layout

def test_members_respect_the_row_limit_and_are_numbered(world, written):
    month = world.closed_months[0]
    members = read_members(written / bill_archive_key(month))
    assert len(members) >= 2
    yyyymm = month.replace("-", "")
    assert [name for name, _, _ in members] == [f"customerBill_{yyyymm}_{i:04d}.csv"
                                                for i in range(1, len(members) + 1)]
    assert all(len(rows) <= SMALL.member_rows for _, _, rows in members)
    assert sum(len(rows) for _, _, rows in members) == world.bill_lines[month].height
    english = header_names("en")
    assert all(header == [english[c] for c in BILL_LINE_COLUMNS] for _, header, _ in members)


def test_usage_members_and_headers(world, written):
    month, date = max(world.usage_exports)
    members = read_members(written / usage_archive_key(month, date))
    english = header_names("en")
    for seq, (name, header, _) in enumerate(members, start=1):
        assert name == f"customerUsageV2_{month.replace('-', '')}_{date}_{seq:08d}.csv"
        assert header == [english[c] for c in USAGE_COLUMNS]


def test_chinese_headers(tmp_path):
    world = generate_world(WorldConfig(header_language="zh", bill_type_language="zh", lines_per_month=300,
                                       closed_months=1, usage_export_days=1, utf8_bom=True))
    write_world(world, tmp_path)
    path = tmp_path / bill_archive_key(world.closed_months[0])
    with tarfile.open(path, "r:gz") as tar:
        raw = tar.extractfile(tar.getmembers()[0]).read()
    assert raw.startswith("\ufeff".encode())
    _, header, rows = read_members(path)[0]
    assert header[0] == "\ufeff账期"
    assert header[1:] == [header_names("zh")[c] for c in BILL_LINE_COLUMNS[1:]]
    assert "客户交易时间" in header and "应付金额" in header
    assert {row[header.index("账单类型")] for row in rows} <= {"消费", "退款", "调账"}


def test_names_with_commas_quotes_and_line_breaks_round_trip(world, file_lines):
    names = {line["customer_name"] for lines in file_lines.values() for line in lines}
    for tricky in ("Acme, Inc.", '"Blue" Ocean Ltd', "O'Brien Digital Ltd", "深圳市云端科技有限公司"):
        assert tricky in names
    frame_names = set(world.customers["customer_name"])
    assert names <= frame_names
    resource_names = {line["resource_name"] for lines in file_lines.values() for line in lines}
    expected = set(world.resources["resource_name"]) & {"backup, weekly\nretention 30d", 'web "blue" pool'}
    assert expected and expected <= resource_names


def test_world_frames_match_the_files(world, file_lines):
    for month, lines in file_lines.items():
        frame = world.bill_lines[month]
        assert frame.columns == list(BILL_LINE_COLUMNS)
        assert all(frame.schema[c] == pl.Decimal(20, 8) for c in MONEY)
        assert frame.height == len(lines)
        assert frame["trade_id"].to_list() == [line["trade_id"] for line in lines]
        assert Decimal(str(frame["amount_due"].sum())) == sum(Decimal(line["amount_due"]) for line in lines)


# ------------------------------------------------------------------------------------------ agreements

def test_customer_discount_rules_never_overlap_at_equal_specificity(world, written):
    with open(written / "agreements/customer_discounts.csv", newline="", encoding="utf-8") as handle:
        rules = list(csv.DictReader(handle))
    assert list(rules[0]) == ["customer_id", "service_type_code", "resource_type_code", "discount_rate",
                              "valid_from", "valid_to"]
    chains = defaultdict(list)
    kinds = set()
    for rule in rules:
        rate = Decimal(rule["discount_rate"])
        assert 0 <= rate <= Decimal("0.2") and -rate.as_tuple().exponent <= 4
        start = dt.date.fromisoformat(rule["valid_from"])
        end = dt.date.fromisoformat(rule["valid_to"]) if rule["valid_to"] else dt.date.max
        assert start <= end
        key = (rule["customer_id"], rule["service_type_code"], rule["resource_type_code"])
        chains[key].append((start, end))
        kinds.add(("customer" if key[0] != "*" else "*", key[1] != "*", key[2] != "*"))
    assert kinds == {("*", False, False), ("*", True, False), ("customer", False, False),
                     ("customer", True, False), ("customer", True, True)}
    world_begin, world_end = dt.date(2026, 8, 1), dt.date(2026, 11, 30)
    changes_inside = 0
    for key, periods in chains.items():
        periods.sort()
        for (_, end), (next_start, _) in zip(periods, periods[1:]):
            assert end < next_start, key
            assert next_start - end == dt.timedelta(days=1), key
            changes_inside += world_begin <= next_start <= world_end
    assert changes_inside >= 2
    assert chains[("*", "*", "*")] == [(dt.date(2025, 1, 1), dt.date.max)]
    assert len(world.customer_discounts) == len(rules)


def test_incentive_rates(written):
    with open(written / "agreements/incentive_rates.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["incentive_type", "policy_code", "rate", "valid_from", "valid_to"]
    assert {row["policy_code"] for row in rows} == {"0", "1", "2", "13"}
    assert all(0 <= Decimal(row["rate"]) <= 1 for row in rows)
    # Only the rebate the monthly statement pays: a quarterly rate would call for lines no monthly statement has.
    assert {row["incentive_type"] for row in rows} == {"Monthly rebate"}


# ------------------------------------------------------------------------------------------ usage exports

def _usage_key(row: dict[str, str]) -> tuple:
    return tuple(row[c] for c in ("customer_id", "trade_time", "billing_mode", "resource_id", "usage_type"))


def test_usage_exports_are_cumulative(world, written):
    canonical = {header: name for name, header in header_names("en").items()}
    exports = []
    for month, date in sorted(k for k in world.usage_exports if k[0] == world.open_month):
        rows = []
        for _, header, data in read_members(written / usage_archive_key(month, date)):
            rows.extend(dict(zip([canonical[h] for h in header], row)) for row in data)
        exports.append((date, rows))
    assert len(exports) == world.config.usage_export_days
    previous: dict[tuple, dict[str, str]] = {}
    for date, rows in exports:
        cutoff = f"{date[:4]}-{date[4:6]}-{date[6:]} 00:00:00 GMT+08:00"
        assert rows and all(row["trade_time"] <= cutoff for row in rows)
        assert all(row["bill_cycle"] == world.open_month for row in rows)
        current = Counter(_usage_key(row) for row in rows)
        assert not Counter(_usage_key(row) for row in previous.values()) - current, date
        by_key = {_usage_key(row): row for row in rows}
        for key, old in previous.items():
            new = by_key[key]
            if old["official_amount"] != new["official_amount"]:
                assert new["billing_mode"] == "1"
                ratio = Decimal(new["official_amount"]) / Decimal(old["official_amount"])
                assert Decimal("0.96") < ratio < Decimal("1.04")
        previous = by_key
        assert len(current) > 0


def test_usage_export_corrections_persist():
    world = generate_world(WorldConfig(seed=3, lines_per_month=20_000, closed_months=1, usage_export_days=6))
    series = world.usage_export_series(world.open_month)
    exports = [series.export(i) for i in range(len(series.export_dates))]
    money = ["usage_amount", "official_amount", "discount_amount", "amount_due"]
    corrected_at: dict[int, tuple] = {}
    for earlier, later in zip(exports, exports[1:]):
        assert later.height > earlier.height
        overlap = later.head(earlier.height)
        assert overlap.select(pl.exclude(money)).equals(earlier.select(pl.exclude(money)))
        changed = np.flatnonzero((overlap["official_amount"] != earlier["official_amount"]).to_numpy())
        for row in changed:
            assert row not in corrected_at, "a line is corrected at most once"
            corrected_at[int(row)] = tuple(later.row(int(row), named=True)[c] for c in money)
        # A correction, once made, is in every later export.
        for row, values in corrected_at.items():
            assert tuple(later.row(row, named=True)[c] for c in money) == values
    assert corrected_at, "some pay-per-use lines are re-rated between exports"
    final = exports[-1]
    rows = pl.Series(sorted(corrected_at))
    fixed = final[rows]
    assert (fixed["billing_mode"] == 1).all()
    assert np.array_equal(decimal_to_units(fixed["amount_due"]),
                          decimal_to_units(fixed["official_amount"]) - decimal_to_units(fixed["discount_amount"]))


# ------------------------------------------------------------------------------------------ scale

def test_two_hundred_thousand_lines_generate(tmp_path):
    world = generate_world(WorldConfig(seed=11, lines_per_month=200_000, closed_months=1, usage_export_days=2))
    frame = world.bill_lines[world.closed_months[0]]
    assert 190_000 <= frame.height <= 210_000
    units = {c: decimal_to_units(frame[c]) for c in MONEY}
    due = units["amount_due"]
    assert np.array_equal(due, units["official_amount"] - units["discount_amount"] - units["truncated_amount"])
    assert np.array_equal(due, sum(units[c] for c in PAYMENTS))
    assert frame["trade_id"].n_unique() == frame.height
    refunds = frame.filter(pl.col("bill_type") == "Refund")
    assert refunds.height > 0 and refunds["original_order_id"].is_not_null().all()
    assert frame.filter(pl.col("billing_mode").is_in([2, 3, 4, 5])).height > 0


def test_history_months_have_orders_and_api_records_but_no_bill_file(tmp_path):
    config = WorldConfig(seed=24, customers=14, resellers=2, closed_months=4, history_months=2,
                         first_month="2026-07", lines_per_month=3000, usage_export_days=1)
    world = generate_world(config)
    assert world.billed_months == ["2026-09", "2026-10"]
    write_world(world, tmp_path)
    assert sorted(p.name for p in (tmp_path / "customerBill").iterdir()) == [
        "customerBill_202609.tar.gz", "customerBill_202610.tar.gz"]
    assert sorted(p.name for p in (tmp_path / "incentives").iterdir()) == [
        "incentive_statement_202609.csv", "incentive_statement_202610.csv"]
    order_month = dict(zip(world.orders["order_id"].to_list(), world.orders["bill_cycle"].to_list()))
    refunded = Counter(order_month[order] for month in world.billed_months
                       for order in world.bill_lines[month].filter(pl.col("bill_type") == "Refund")["original_order_id"])
    assert refunded["2026-07"] and refunded["2026-08"], "later refunds of orders billed before the warehouse"
    served = {order["order_id"] for order in world.api_data.orders}
    assert {order for order, month in order_month.items() if month in ("2026-07", "2026-08")} <= served


@pytest.mark.parametrize("changes", [{"history_months": 3}, {"history_months": -1},
                                     {"history_months": 1, "anomalies": 1}])
def test_history_months_must_leave_a_billed_month_and_no_plants(changes):
    with pytest.raises(ValueError):
        WorldConfig(closed_months=3, **changes)
