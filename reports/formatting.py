"""How values from the warehouse are shown to people and written to files.

The warehouse keeps money as DECIMAL(20,8) per line and DECIMAL(38,8) per sum. People read it rounded
to cents with thousands separators; machine-readable exports (CSV) keep every stored digit. Rounding happens only here,
at display time, and always half-up (the convention on invoices), never banker's rounding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Protocol

from schemas.bill_cycle import GMT8

CURRENCY = "USD"  # the one account of the BILLRECON_* settings is billed in USD


class ReportAccount(Protocol):
    """The partner account of partners.toml a report is for (the pipeline's `Partner`): its header names
    it, and its amounts are labelled with its currency (README, "Scale out"). Without partners.toml there
    is none, and the amounts are in CURRENCY."""

    id: str
    name: str
    currency: str

_CENT = Decimal("0.01")
# Python's default decimal context keeps 28 digits: a sum beyond 10^20 at 8 places would be rounded
# (and refused by quantize). 38 digits hold every DECIMAL(38,8) amount exactly.
MONEY_CONTEXT = Context(prec=38)


def money_sum(values: Iterable[Decimal | None]) -> Decimal:
    """The exact sum of amounts (None counts as 0), however large."""
    total = Decimal(0)
    for value in values:
        if value is not None:
            total = MONEY_CONTEXT.add(total, value)
    return total


def _as_decimal(value: Decimal | int | float | None) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    # float only reaches here from computed ratios; go through str so 0.1 stays 0.1.
    return Decimal(str(value))


def format_money(value: Decimal | int | None) -> str:
    """Amount rounded half-up to cents with thousands separators: ``-12,345.67``.

    A value that rounds to zero is shown as ``0.00`` (never ``-0.00``), so a tiny negative
    residue does not look like a refund.
    """
    rounded = _as_decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = Decimal("0.00")
    return f"{rounded:,.2f}"


def format_amount(value: Decimal | int | None, currency: str = CURRENCY) -> str:
    """Amount with its currency, as in the headline figures: ``USD 12,345.67`` (``currency``, USD by default)."""
    return f"{currency} {format_money(value)}"


def format_count(value: int | None) -> str:
    """Whole number with thousands separators."""
    return f"{value or 0:,d}"


def format_counted(number: int | None, noun: str) -> str:
    """A count with its noun in the right number: ``1 finding``, ``1,204 findings``."""
    number = number or 0
    return f"{number:,d} {noun}{'' if number == 1 else 's'}"


def format_exact(value: Decimal | None) -> str:
    """A stored decimal with all its significant digits (at least 2, at most 8 decimals).

    For values that are not necessarily money, such as the expected and actual values of a
    finding, which may be discount rates (0.125) that cents rounding would distort.
    """
    if value is None:
        return ""
    text = f"{value:,.8f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    text = f"{whole}.{decimals.ljust(2, '0')}"
    return "0.00" if text in ("-0.00", "0.00") else text


def format_utc_minute(value: datetime) -> str:
    """An instant for people: UTC to the minute, ``2026-04-05 03:00 UTC``."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def format_percent(value: Decimal | None) -> str:
    """A ratio (0.1234) as a percentage with two decimals (``12.34 %``); ``n/a`` when undefined."""
    if value is None:
        return "n/a"
    percent = (_as_decimal(value) * 100).quantize(_CENT, rounding=ROUND_HALF_UP)
    if percent == 0:
        percent = Decimal("0.00")
    return f"{percent:,.2f} %"


# A change against a base this small (in CURRENCY) says nothing as a percentage: 5.00 -> 1,718.00
# would read "34,260.00 %". Such changes, and rises beyond CHANGE_PERCENT_CAP, are shown in words.
CHANGE_BASE_MINIMUM = Decimal("10")
CHANGE_PERCENT_CAP = Decimal("10")  # a ratio: +1,000 %


def format_change_percent(change: Decimal | None, base: Decimal | None) -> str:
    """A month-over-month change as a percentage of its base, where that means something.

    ``new`` when there was nothing before and there is now; ``n/a`` when nothing changed from
    nothing or the base is under CHANGE_BASE_MINIMUM (in either sign); ``> 1,000.00 %`` for a rise
    beyond CHANGE_PERCENT_CAP; otherwise the percentage (``-12.50 %``). The amount of the
    change is always shown beside it, so nothing is lost.
    """
    change = _as_decimal(change)
    if base is None or _as_decimal(base) == 0:
        return "new" if change > 0 else "n/a"
    base = _as_decimal(base)
    if abs(base) < CHANGE_BASE_MINIMUM:
        return "n/a"
    ratio = change / abs(base)
    if ratio > CHANGE_PERCENT_CAP:
        return f"> {format_percent(CHANGE_PERCENT_CAP)}"
    return format_percent(ratio)


def margin_ratio(margin: Decimal | None, billed: Decimal | None) -> Decimal | None:
    """Margin as a share of what the customers are billed; undefined when nothing was billed."""
    if margin is None or not billed:
        return None
    return margin / billed


def is_negative(value: Decimal | int | float | None) -> bool:
    """True for amounts that display as negative (used to colour them)."""
    if value is None:
        return False
    return _as_decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP) < 0


def plain_decimal(value: Decimal) -> str:
    """Full-precision decimal text without exponent (``Decimal('0E-8')`` -> ``0.00000000``)."""
    return format(value, "f")


def utc_timestamp_text(value: datetime) -> str:
    """A stored instant as ISO-8601 UTC text.

    DuckDB hands TIMESTAMPTZ values over in the session time zone; converting to UTC keeps the
    output identical on every machine.
    """
    if value.tzinfo is None:
        return value.isoformat(sep=" ")
    return value.astimezone(UTC).isoformat(sep=" ")


def format_when(value: date | datetime | str | None) -> str:
    """A date as ``2026-11-05``; an instant in GMT+8 to the minute (``2026-11-30 23:59 GMT+8``,
    whatever the session's time zone); text as is; nothing as ``—``."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y-%m-%d %H:%M")
        return value.astimezone(GMT8).strftime("%Y-%m-%d %H:%M GMT+8")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def meter_percent(ratio: Decimal | float | None) -> str:
    """Width of a utilisation bar in percent of its track, 0 to 100, one decimal (``62.5``)."""
    value = _as_decimal(ratio)
    value = min(max(value, Decimal(0)), Decimal(1)) * 100
    return f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}"


# Statuses of the reconciliation marts -> the pill style that shows them.
_PILL_CLASSES = {
    "matched": "ok", "ok": "ok", "info": "info",
    "frozen": "frozen", "warning": "warning", "policy_unknown": "warning",
    "not_eligible": "info", "not_reconciled": "info",
}


def pill_class(status: str | None) -> str:
    """CSS class of a status pill: good, frozen/warning, neutral, or (anything else) an error."""
    if status is None:
        return "info"
    return _PILL_CLASSES.get(status, "error")


def break_points(code: str | None) -> list[str]:
    """A code cut after each ``.`` and ``_`` (``RULE.SOME_ID`` -> ``RULE.``, ``SOME_``, ``ID``), so a
    page can let a narrow column wrap there (``<wbr>``) rather than in the middle of a word."""
    return re.findall(r"[^._]*[._]|[^._]+$", code or "")


# codes whose words are not just the code with spaces
_STATUS_WORDS = {
    "alert_75": "at 75 %",
    "alert_90": "at 90 %",
    "forecast_over": "forecast over budget",
}


def status_text(status: str | None) -> str:
    """A status code for people: ``missing_in_api`` -> ``missing in api``, ``alert_90`` -> ``at 90 %``."""
    if status is None:
        return "—"
    return _STATUS_WORDS.get(str(status), str(status).replace("_", " "))
