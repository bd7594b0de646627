"""What HUAWEI CLOUD's codes mean, for people reading the reports (``docs/domain.md#billing-modes``,
``docs/month_close_pack.md``).

The warehouse keeps the codes as delivered; the page and the workbook show these names beside
them. A code that is not listed here is shown as it is, marked unknown, never hidden.
"""

from __future__ import annotations

# The bill file's billing mode column (its own codes: the BSS API numbers the modes differently).
BILLING_MODES: dict[int, str] = {
    0: "Yearly/monthly",
    1: "Pay-per-use",
    2: "Reserved instance, subscription",
    3: "Reserved instance, hourly",
    4: "Savings plan, subscription",
    5: "Savings plan, hourly",
    6: "Savings plan, deduction",
}

# The incentive policy of a service in a month (the incentive-discount-policies API): a short name
# for table cells, and what the policy means.
INCENTIVE_POLICIES: dict[int, tuple[str, str]] = {
    0: ("Non-specific product", "counts toward performance and earns the rebate"),
    1: ("Specific product", "counts toward performance and earns the rebate (the specific-product tier)"),
    2: ("Excluded (no performance, no rebate)", "counts toward neither"),
    13: ("Performance only (no rebate)", "counts toward performance but earns nothing: its rate is 0 %"),
}


def _as_code(code: object) -> int | None:
    try:
        return int(str(code).strip())
    except (TypeError, ValueError):
        return None


def billing_mode_label(code: object) -> str | None:
    """``1`` -> ``Pay-per-use (1)``; an unknown code -> ``unknown billing mode 9``; None -> None."""
    if code is None:
        return None
    name = BILLING_MODES.get(_as_code(code))
    return f"{name} ({code})" if name else f"unknown billing mode {code}"


def incentive_policy_label(code: object) -> str | None:
    """``13`` -> ``13 – Performance only (no rebate)``; None -> None."""
    if code is None:
        return None
    return f"{code} – {incentive_policy_name(code)}"


def incentive_policy_name(code: object) -> str | None:
    """The policy's short name (``Performance only``), for a narrow table cell."""
    if code is None:
        return None
    policy = INCENTIVE_POLICIES.get(_as_code(code))
    return policy[0] if policy else "unknown policy"
