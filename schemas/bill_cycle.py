"""The bill cycle: one calendar month of HUAWEI CLOUD's billing clock, which is GMT+8 all year.

`BillCycle` is the one home of a month (docs/architecture.md#bill-cycles): parsing and formatting
('YYYY-MM', the object keys' compact 'YYYYMM'), shifting, its days, and its window on the billing
clock and in UTC. Standard library only, so every layer may use it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

# The billing clock: a fixed offset (no daylight saving), so moments are shifted, not looked up.
GMT8 = dt.timezone(dt.timedelta(hours=8))
# The same clock by its IANA name, for what takes a zone name (Dagster's partitions and schedules);
# Asia/Shanghai has kept GMT+8 without daylight saving since 1991.
GMT8_ZONE_NAME = "Asia/Shanghai"
# A bill cycle as text, for pandera's `str_matches` and for `BillCycle.parse`
CYCLE_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_COMPACT_PATTERN = r"^\d{4}(0[1-9]|1[0-2])$"
# strftime/strptime form of a bill cycle ('YYYY-MM')
CYCLE_FORMAT = "%Y-%m"


@dataclass(frozen=True, order=True)
class BillCycle:
    """A month: immutable, hashable, ordered by (year, month)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (type(self.year) is int and type(self.month) is int and 1 <= self.year <= 9999
                and 1 <= self.month <= 12):
            raise ValueError(f"({self.year!r}, {self.month!r}) is not a month: the year must be 1 to 9999 "
                             "and the month 1 to 12")

    # ------------------------------------------------------------------------------ parsing

    @classmethod
    def parse(cls, text: object) -> BillCycle:
        """A cycle from 'YYYY-MM'; a ValueError whose message fits one line of a user error."""
        return cls._from_text(text, CYCLE_PATTERN, "YYYY-MM")

    @classmethod
    def parse_compact(cls, text: object) -> BillCycle:
        """A cycle from the 'YYYYMM' of HUAWEI CLOUD's object keys (customerBill_YYYYMM.tar.gz)."""
        return cls._from_text(text, _COMPACT_PATTERN, "YYYYMM")

    @classmethod
    def _from_text(cls, text: object, pattern: str, form: str) -> BillCycle:
        # ASCII digits only: a month in another script's digits is not one the warehouse writes
        match = re.fullmatch(pattern, text, re.ASCII) if isinstance(text, str) else None
        if match and int(text[:4]):    # year 0000 has no calendar
            return cls(int(text[:4]), int(match.group(1)))
        shown = f"'{text}'" if isinstance(text, str) and text.isprintable() else repr(text)
        raise ValueError(f"{shown} is not a month in the form {form}")

    @classmethod
    def of(cls, moment: dt.date | dt.datetime) -> BillCycle:
        """The cycle a date belongs to, or an aware moment's month on the GMT+8 clock."""
        if isinstance(moment, dt.datetime):
            moment = _on_billing_clock(moment)
        return cls(moment.year, moment.month)

    # ------------------------------------------------------------------------------ text

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def compact(self) -> str:
        """'YYYYMM', as in HUAWEI CLOUD's object keys."""
        return f"{self.year:04d}{self.month:02d}"

    # ------------------------------------------------------------------------------ arithmetic

    def shift(self, months: int) -> BillCycle:
        """The cycle `months` later (earlier when negative)."""
        year, month_index = divmod(self.year * 12 + self.month - 1 + months, 12)
        return BillCycle(year, month_index + 1)

    def previous(self) -> BillCycle:
        return self.shift(-1)

    def next(self) -> BillCycle:
        return self.shift(1)

    def last(self, count: int) -> list[BillCycle]:
        """The `count` cycles that end with this one, oldest first."""
        if count < 0:
            raise ValueError(f"cannot list the last {count} months")
        return [self.shift(offset) for offset in range(1 - count, 1)]

    # ------------------------------------------------------------------------------ days and windows

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, self.days)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def start_gmt8(self) -> dt.datetime:
        """The first moment of the cycle on the billing clock (inclusive)."""
        return dt.datetime(self.year, self.month, 1, tzinfo=GMT8)

    @property
    def end_gmt8(self) -> dt.datetime:
        """The first moment after the cycle on the billing clock (exclusive: the window is half-open)."""
        return self.start_gmt8 + dt.timedelta(days=self.days)

    @property
    def start_utc(self) -> dt.datetime:
        return self.start_gmt8.astimezone(dt.UTC)

    @property
    def end_utc(self) -> dt.datetime:
        return self.end_gmt8.astimezone(dt.UTC)

    def contains(self, value: dt.date | dt.datetime) -> bool:
        """Whether a date falls in the month, or an aware moment in its GMT+8 window."""
        if isinstance(value, dt.datetime):
            return self.start_gmt8 <= _on_billing_clock(value) < self.end_gmt8
        return self.first_day <= value <= self.last_day


def _on_billing_clock(moment: dt.datetime) -> dt.datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone: its bill cycle depends on one")
    return moment.astimezone(GMT8)
