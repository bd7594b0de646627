"""The headline verdict of a month close: can the month be closed, and if not, what is at stake.

It is the first thing the page and the workbook's Summary say, in the same words. The rule:

- **awaiting the bill file**: no bill file has landed for the cycle (the open month, a late file);
- **no verdict**: otherwise, when the warehouse has no reconciliation findings mart to judge by;
- **not ready**: the bill file holds no lines; or its amounts (bill file or API) are not all in the
  account's currency (a ``CURRENCY_RULES`` finding in audit.findings); or at least one reconciliation
  finding of severity ``error`` (each is one to resolve; the money at stake is Σ |difference| of those
  findings, signs not netted); or an area is red without an error finding (a tie-out or incentive line that does
  not match to the cent);
- **ready**: none of that. Warnings are listed "to review" and do not hold the close; an area that
  could not be checked (the BSS API not configured) is named in the headline.

Counts and amounts come from ``marts.reconciliation_findings`` (the groups
``reports.reconciliation`` reads, in the cycle's scope), never from the rendered tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from reports.formatting import format_amount, format_counted
from reports.month_close_data import MonthCloseData
from reports.reconciliation import ReconciliationData
from reports.reconciliation_areas import FINDINGS_TABLE
from reports.reconciliation_status import severity_counts

VerdictLevel = Literal["ready", "not_ready", "awaiting_file", "no_verdict"]

BILL_FILE_SOURCE = "customerBill"
# the month's amounts (bill file or API) are not in the account's currency (schemas/rules.py): no total of
# the month means what its label says, so it cannot be closed, whatever the reconciliation found
CURRENCY_RULES = ("FILE.CURRENCY", "API.CURRENCY")


@dataclass(frozen=True)
class Verdict:
    bill_cycle: str
    level: VerdictLevel
    headline: str
    error_count: int
    warning_count: int
    info_count: int
    money_at_stake: Decimal
    """Σ |difference| of the error findings, in the month's currency (MonthCloseData.currency)."""
    details: tuple[str, ...]
    """Short lines under the headline: the counts by severity, the areas not checked."""


def bill_file_delivered(data: MonthCloseData) -> bool:
    """True when a partner bill file of the cycle has landed (whatever it held)."""
    return any(row["source"] == BILL_FILE_SOURCE and row["bill_cycle"] == data.bill_cycle
               for row in data.data_quality)


def month_close_verdict(data: MonthCloseData, reconciliation: ReconciliationData) -> Verdict:
    cycle = data.bill_cycle
    groups = reconciliation.finding_groups
    errors, warnings, infos, _ = severity_counts(groups)
    _, _, _, at_stake = severity_counts(
        [group for group in groups if group["severity"] not in ("warning", "info")])
    unchecked = [status.area.title for status in reconciliation.statuses if status.level == "unavailable"]
    red_without_error = [status.area.title for status in reconciliation.statuses
                         if status.level == "red" and status.error_count == 0]

    details = [_severity_line(errors, warnings, infos, format_amount(at_stake, data.currency))]
    if unchecked and FINDINGS_TABLE in reconciliation.present_tables:
        details.append("Not checked: " + ", ".join(unchecked) + ".")

    if FINDINGS_TABLE not in reconciliation.present_tables:
        details = []
    if not bill_file_delivered(data) and not data.has_lines:
        level: VerdictLevel = "awaiting_file"
        headline = f"{cycle} cannot be closed yet: its bill file has not been delivered"
    elif FINDINGS_TABLE not in reconciliation.present_tables:
        level = "no_verdict"
        headline = f"No verdict for {cycle}: this warehouse has no reconciliation findings to judge by"
    elif not data.has_lines:
        level = "not_ready"
        headline = f"{cycle} is not ready to close: its bill file holds no lines"
    elif other_currency := [group["rule_id"] for group in data.findings_by_rule if group["rule_id"] in CURRENCY_RULES]:
        level = "not_ready"
        headline = (f"{cycle} is not ready to close: its amounts are not all in the account's currency, "
                    f"{data.currency} ({', '.join(sorted(set(other_currency)))})")
    elif errors:
        level = "not_ready"
        headline = (f"{cycle} is not ready to close: {format_counted(errors, 'finding')} to resolve, "
                    f"{format_amount(at_stake, data.currency)} at stake")
    elif red_without_error:
        level = "not_ready"
        headline = f"{cycle} is not ready to close: unmatched lines in {', '.join(red_without_error)}"
    else:
        level = "ready"
        headline = f"{cycle} is ready to close"
        if warnings:
            headline += f", with {format_counted(warnings, 'warning')} to review"
        if unchecked:
            headline += f" ({', '.join(unchecked)} not checked)"
    return Verdict(bill_cycle=cycle, level=level, headline=headline, error_count=errors,
                   warning_count=warnings, info_count=infos, money_at_stake=at_stake,
                   details=tuple(details))


def _severity_line(errors: int, warnings: int, infos: int, at_stake: str) -> str:
    if not errors + warnings + infos:
        return "No reconciliation finding."
    line = (f"Reconciliation findings: {format_counted(errors, 'error')}, "
            f"{format_counted(warnings, 'warning')}" + (f", {infos:,} info" if infos else ""))
    if errors:
        line += f"; Σ |difference| of the errors {at_stake}"
    return line + "."
