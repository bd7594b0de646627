"""JSON text with exact money: `Decimal` values are written as JSON numbers digit for digit.

The standard `json` module can only write a Decimal by going through float (which would turn
0.1 + 0.2 into 0.30000000000000004) or as a string. Here the number text is produced from the
Decimal itself, rounded half-up to at most 8 decimals (the precision of the bill files) with
trailing zeros dropped, so `Decimal("12.50000000")` is written `12.5`.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

_EIGHT_PLACES = Decimal("1e-8")


def decimal_text(value: Decimal) -> str:
    """A finite Decimal as JSON number text, at most 8 decimals, no exponent, no trailing zeros."""
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    if value.as_tuple().exponent < -8:
        value = value.quantize(_EIGHT_PLACES, rounding=ROUND_HALF_UP)
    if value == 0:
        return "0"  # also for -0 and 0E-8
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def dumps(value: Any) -> str:
    """JSON text of dicts, lists, str, int, bool, None and Decimal. A float is refused, because
    every amount must reach this point as a Decimal."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        out.append(decimal_text(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as exact JSON: {value!r}")
