"""The benchmark's pandas mart divides a refund's share of its original order on whole 1e-8 units,
as core.rated_bill_line does (docs/reconciliation.md, "Refunds"); tests/integration/test_bench_pandas_mart.py
compares the whole mart with billrecon's."""

import pytest

from bench.pandas_mart import refund_share_units


@pytest.mark.parametrize(("charge", "refunded", "original_due", "expected"), [
    (1000, -1, 3, -333),        # −333.33… → −333
    (1000, -1, 2000, -1),       # −0.5 → −1: half away from zero
    (999, -1, 2, -500),         # −499.5 → −500
    (1000, -5, 0, 0),           # a free original refunds nothing
    (-1000, -1, 2000, 1),       # signs multiply
])
def test_a_refunds_share_is_rounded_half_away_from_zero_on_whole_units(charge, refunded, original_due, expected):
    assert refund_share_units(charge, refunded, original_due) == expected
