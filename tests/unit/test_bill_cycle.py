"""BillCycle: parsing, text, arithmetic across year ends, days, and the GMT+8 window in UTC."""

import datetime as dt

import pytest

from schemas.bill_cycle import GMT8, BillCycle


def test_parse_and_text_round_trip():
    cycle = BillCycle.parse("2026-09")
    assert (cycle.year, cycle.month) == (2026, 9)
    assert str(cycle) == "2026-09"
    assert cycle.compact == "202609"
    assert BillCycle.parse_compact("202609") == cycle
    assert str(BillCycle(987, 1)) == "0987-01"
    assert BillCycle(987, 1).compact == "098701"


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-10", "2026/10", "202610", " 2026-10",
                                  "2026-10 ", "0000-01", "", "2026-10-01", "２０２６-10"])
def test_parse_refuses_anything_but_year_dash_month(text):
    with pytest.raises(ValueError) as error:
        BillCycle.parse(text)
    assert str(error.value) == f"'{text}' is not a month in the form YYYY-MM"


def test_parse_messages_stay_on_one_line_and_name_non_text():
    with pytest.raises(ValueError) as error:
        BillCycle.parse("2026-10\n")
    assert str(error.value) == "'2026-10\\n' is not a month in the form YYYY-MM"
    with pytest.raises(ValueError) as error:
        BillCycle.parse(202610)
    assert str(error.value) == "202610 is not a month in the form YYYY-MM"


@pytest.mark.parametrize("text", ["2026-10", "20261", "202613", "202600", "000001"])
def test_parse_compact_refuses_anything_but_yyyymm(text):
    with pytest.raises(ValueError) as error:
        BillCycle.parse_compact(text)
    assert str(error.value) == f"'{text}' is not a month in the form YYYYMM"


@pytest.mark.parametrize(("year", "month"), [(2026, 0), (2026, 13), (0, 5), (10000, 1), ("2026", 1)])
def test_constructor_refuses_impossible_months(year, month):
    with pytest.raises(ValueError, match="is not a month"):
        BillCycle(year, month)


def test_value_semantics_immutable_hashable_ordered():
    a, b, c = BillCycle(2025, 12), BillCycle(2026, 1), BillCycle(2026, 2)
    assert sorted([c, a, b]) == [a, b, c]
    assert a < b < c and max(a, c) == c
    assert {BillCycle.parse("2026-01"), b} == {b}
    with pytest.raises(AttributeError):
        a.month = 11


def test_shifts_cross_year_ends_both_ways():
    december = BillCycle(2026, 12)
    assert december.next() == BillCycle(2027, 1)
    assert BillCycle(2027, 1).previous() == december
    assert december.shift(0) == december
    assert december.shift(13) == BillCycle(2028, 1)
    assert december.shift(-12) == BillCycle(2025, 12)
    assert december.shift(-24) == BillCycle(2024, 12)
    assert BillCycle(2026, 3).shift(-3) == BillCycle(2025, 12)
    assert [str(c) for c in BillCycle(2027, 2).last(4)] == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert BillCycle(2027, 2).last(0) == []
    with pytest.raises(ValueError):
        BillCycle(2027, 2).last(-1)


def test_days_including_february_of_leap_years():
    assert BillCycle(2024, 2).days == 29
    assert BillCycle(2026, 2).days == 28
    assert BillCycle(2000, 2).days == 29
    assert BillCycle(2100, 2).days == 28
    assert BillCycle(2026, 4).days == 30
    assert BillCycle(2024, 2).first_day == dt.date(2024, 2, 1)
    assert BillCycle(2024, 2).last_day == dt.date(2024, 2, 29)
    assert BillCycle(2026, 12).last_day == dt.date(2026, 12, 31)


def test_window_on_the_billing_clock_and_in_utc():
    cycle = BillCycle(2026, 12)
    assert cycle.start_gmt8 == dt.datetime(2026, 12, 1, tzinfo=GMT8)
    assert cycle.end_gmt8 == dt.datetime(2027, 1, 1, tzinfo=GMT8)
    assert cycle.start_utc == dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)
    assert cycle.end_utc == dt.datetime(2026, 12, 31, 16, tzinfo=dt.UTC)
    assert cycle.start_utc.tzinfo is dt.UTC
    assert BillCycle(2024, 2).end_utc == dt.datetime(2024, 2, 29, 16, tzinfo=dt.UTC)
    assert GMT8.utcoffset(None) == dt.timedelta(hours=8)


def test_contains_is_half_open_on_the_billing_clock():
    cycle = BillCycle(2026, 12)
    assert cycle.contains(dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC))
    assert not cycle.contains(dt.datetime(2026, 11, 30, 15, 59, 59, 999999, tzinfo=dt.UTC))
    assert cycle.contains(dt.datetime(2026, 12, 31, 15, 59, 59, tzinfo=dt.UTC))
    assert not cycle.contains(dt.datetime(2026, 12, 31, 16, tzinfo=dt.UTC))
    assert not cycle.contains(dt.datetime(2027, 1, 1, tzinfo=GMT8))
    assert cycle.contains(dt.date(2026, 12, 1)) and cycle.contains(dt.date(2026, 12, 31))
    assert not cycle.contains(dt.date(2027, 1, 1)) and not cycle.contains(dt.date(2026, 11, 30))
    with pytest.raises(ValueError, match="has no time zone"):
        cycle.contains(dt.datetime(2026, 12, 5))


def test_of_a_date_or_an_aware_moment_is_its_gmt8_month():
    assert BillCycle.of(dt.date(2024, 2, 29)) == BillCycle(2024, 2)
    assert BillCycle.of(dt.datetime(2026, 12, 31, 15, 59, 59, tzinfo=dt.UTC)) == BillCycle(2026, 12)
    assert BillCycle.of(dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC)) == BillCycle(2027, 1)
    assert BillCycle.of(dt.datetime(2027, 1, 1, 0, 0, tzinfo=GMT8)) == BillCycle(2027, 1)
    with pytest.raises(ValueError) as error:
        BillCycle.of(dt.datetime(2026, 12, 31, 16, 0))
    assert str(error.value) == "2026-12-31T16:00:00 has no time zone: its bill cycle depends on one"
