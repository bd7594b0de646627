"""The status at a glance of each reconciliation area, as the month-close pack shows it.

One rule for every area (tie-out, discount audit, incentives, budgets, coupons):

- **red**: at least one finding of severity ``error``, or a money mismatch in the area's mart
  (a tie-out or incentive line that does not match to the cent), or a limit reached (a budget at
  100 %);
- **amber**: otherwise, at least one ``warning`` finding, something frozen (an incentive the
  statement holds back), or something to watch (a budget at 75/90 % or forecast above 100 %);
- **green**: neither; ``info`` findings are counted but do not change the colour;
- **not available**: the area cannot be judged (its mart is not in the warehouse, or the BSS
  partner API it compares with is not configured); the reason is shown instead of a colour;
- **no data**: the mart is there but holds nothing for the cycle, and no finding either.

This module only decides; the numbers come from ``reports.reconciliation``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from reports.formatting import CURRENCY, format_amount, format_counted

Level = Literal["green", "amber", "red", "unavailable", "no_data"]

LEVEL_LABELS: dict[str, str] = {
    "green": "Green",
    "amber": "Amber",
    "red": "Red",
    "unavailable": "Not available",
    "no_data": "No data",
}


@dataclass(frozen=True)
class Area:
    """One reconciliation area: its ``check_area`` value in the findings, title and marts."""

    key: str
    title: str
    anchor: str
    tables: tuple[str, ...]
    needs_api: bool
    """True when the area compares with the BSS partner API and means nothing without it."""
    empty_means_clean: bool
    """True when an empty mart is the normal clean state (no finding), not missing data."""


@dataclass(frozen=True)
class AreaStatus:
    area: Area
    level: Level
    reason: str | None
    """Why the area is not available or has no data, as shown to the reader; None otherwise."""
    error_count: int
    warning_count: int
    info_count: int
    difference_amount: Decimal
    """Σ |difference_amount| of the area's findings: the money at stake, signs not netted."""
    mismatch_count: int
    frozen_count: int
    limit_count: int
    """Rows of the mart at a limit without a finding (a budget at 100 %): red."""
    watch_count: int
    """Rows of the mart to watch without a finding (a budget at 75/90 % or forecast over): amber."""
    facts: tuple[str, ...]
    """Short lines about the area's figures (shown under the status)."""

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self.level]

    @property
    def finding_count(self) -> int:
        return self.error_count + self.warning_count + self.info_count

    @property
    def count_text(self) -> str:
        """``2 errors · 1 warning`` or ``no finding``."""
        parts = [format_counted(count, noun) for count, noun in
                 ((self.error_count, "error"), (self.warning_count, "warning")) if count]
        if self.info_count:
            parts.append(f"{self.info_count:,} info")
        if self.mismatch_count and not self.error_count:
            parts.insert(0, format_counted(self.mismatch_count, "unmatched line"))
        return " · ".join(parts) if parts else "no finding"

    def sentence(self, currency: str = CURRENCY) -> str:
        """The status in one line of text, for the workbook's Summary sheet."""
        if not self.judged:
            return f"{self.area.title}: {self.reason}"
        text = f"{self.area.title}: {self.label}, {self.count_text}"
        if self.difference_amount:
            text += f", differences {format_amount(self.difference_amount, currency)}"
        return text + "".join(f"; {fact}" for fact in self.facts) + "."

    @property
    def judged(self) -> bool:
        """True when the area carries a colour (green, amber or red)."""
        return self.level in ("green", "amber", "red")


def glance_level(error_count: int, warning_count: int, mismatch_count: int, frozen_count: int,
                 limit_count: int = 0, watch_count: int = 0) -> Level:
    """Red, amber or green by the rule in the module docstring."""
    if error_count or mismatch_count or limit_count:
        return "red"
    if warning_count or frozen_count or watch_count:
        return "amber"
    return "green"


def severity_counts(groups: Iterable[Mapping[str, Any]]) -> tuple[int, int, int, Decimal]:
    """(errors, warnings, infos, Σ |difference|) over finding groups of one area.

    An unknown severity counts as an error: a finding the report cannot classify must not
    pass as green.
    """
    errors = warnings = infos = 0
    amount = Decimal(0)
    for group in groups:
        count = int(group["finding_count"])
        severity = group["severity"]
        if severity == "warning":
            warnings += count
        elif severity == "info":
            infos += count
        else:
            errors += count
        amount += group["abs_difference_amount"] or Decimal(0)
    return errors, warnings, infos, amount


def area_status(
    area: Area,
    *,
    unavailable_reason: str | None,
    has_rows: bool,
    no_data_reason: str,
    finding_groups: Sequence[Mapping[str, Any]],
    mismatch_count: int = 0,
    frozen_count: int = 0,
    limit_count: int = 0,
    watch_count: int = 0,
    facts: Sequence[str] = (),
) -> AreaStatus:
    """The status of one area from its availability, its findings and its mart's counts."""
    errors, warnings, infos, amount = severity_counts(finding_groups)
    reason: str | None = None
    if unavailable_reason is not None:
        level: Level = "unavailable"
        reason = unavailable_reason
        facts = ()
    elif not has_rows and not area.empty_means_clean and errors + warnings + infos == 0:
        level = "no_data"
        reason = no_data_reason
    else:
        level = glance_level(errors, warnings, mismatch_count, frozen_count, limit_count, watch_count)
    return AreaStatus(
        area=area,
        level=level,
        reason=reason,
        error_count=errors,
        warning_count=warnings,
        info_count=infos,
        difference_amount=amount,
        mismatch_count=mismatch_count,
        frozen_count=frozen_count,
        limit_count=limit_count,
        watch_count=watch_count,
        facts=tuple(facts),
    )
