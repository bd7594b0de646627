"""Vectorised builders for IDs that look like HUAWEI CLOUD's (domain IDs, UUIDs, order numbers)."""

from __future__ import annotations

import numpy as np
import polars as pl

_BASE36 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


def hex_ids(rng: np.random.Generator, count: int, length: int = 32) -> pl.Series:
    """`count` random lowercase hex strings of `length` characters (HUAWEI domain IDs are 32 hex)."""
    if count == 0:
        return pl.Series([], dtype=pl.String)
    raw = rng.integers(0, 256, size=(count, (length + 1) // 2), dtype=np.uint8)
    text = raw.tobytes().hex()
    width = raw.shape[1] * 2
    chunks = np.frombuffer(text.encode("ascii"), dtype=f"S{width}")
    return pl.Series(chunks).cast(pl.String).str.slice(0, length)


def uuids(rng: np.random.Generator, count: int) -> pl.Series:
    """`count` random UUID-shaped strings (resource IDs of ECS, EVS, EIP ...)."""
    plain = hex_ids(rng, count, 32)
    return pl.select(
        pl.concat_str(
            [plain.str.slice(0, 8), plain.str.slice(8, 4), plain.str.slice(12, 4),
             plain.str.slice(16, 4), plain.str.slice(20, 12)],
            separator="-",
        )
    ).to_series()


def base36(values: np.ndarray, width: int) -> pl.Series:
    """Fixed-width upper-case base-36 rendering of non-negative integers."""
    values = np.asarray(values, dtype=np.int64)
    if values.size and (values.min() < 0 or values.max() >= 36**width):
        raise ValueError(f"value out of range for {width} base-36 digits")
    digits = np.empty((values.size, width), dtype=np.uint8)
    rest = values.copy()
    for position in range(width - 1, -1, -1):  # loop over digit positions, not rows
        digits[:, position] = _BASE36[rest % 36]
        rest //= 36
    return pl.Series(digits.view(f"S{width}").ravel()).cast(pl.String)


def zero_padded(values: np.ndarray, width: int) -> pl.Series:
    """Decimal digits of non-negative integers, left-padded with zeros to `width`."""
    values = np.asarray(values, dtype=np.int64)
    return pl.Series(values + 10**width).cast(pl.String).str.slice(1)


def order_ids(order_seq: np.ndarray, local_seconds: np.ndarray) -> pl.Series:
    """HUAWEI-style order numbers: "CS" + yyMMddHHmm of the order time + 5 base-36 characters.

    The suffix encodes a world-wide order sequence number, which makes every ID unique."""
    stamps = pl.Series(np.asarray(local_seconds, dtype=np.int64) * 1_000_000).cast(pl.Datetime("us"))
    return pl.select(
        pl.concat_str([pl.lit("CS"), stamps.dt.strftime("%y%m%d%H%M"), base36(order_seq, 5)])
    ).to_series()
