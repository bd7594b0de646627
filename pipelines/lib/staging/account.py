"""What a partner account's `site` and `currency` (partners.toml) expect of its deliveries, checked on the
column headers of a bill file or usage export: one finding per delivery, the rows loaded either way.

- **Header language.** HUAWEI CLOUD's China site delivers Chinese headers, the international site English
  ones. Both are read (schemas/aliases.py), so a file in the other language loses nothing; but it means
  the account's `site` is probably wrong (and with it the SDK its BSS calls go through), which is worth
  one warning, FILE.HEADER_LANGUAGE. Checked only for an account of partners.toml: the BILLRECON_*
  settings name no site, so their one account reads either language silently, as it always has.
- **Currency.** English headers name the currency of the amounts ("Amount Due (USD)"); Chinese headers
  name none. Amounts in another currency than the account's are one error, FILE.CURRENCY, rather than
  figures silently labelled with the wrong currency.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipelines.lib.partners import Partner
from schemas.aliases import normalise_header
from schemas.rules import rule

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}
_CURRENCY_IN_HEADER = re.compile(r"\(([A-Z]{3})\)$")


@dataclass(frozen=True)
class HeaderFacts:
    language: str | None   # "en" or "zh": the language of most known headers; None when neither leads
    currency: str | None   # the one currency the headers name; None when they name none (or several)


@dataclass(frozen=True)
class AccountFinding:
    rule_id: str
    message: str


def header_facts(header: Sequence[str], headers: Mapping[str, tuple[str, ...]]) -> HeaderFacts:
    """What a header row says of its file, given the dataset's (English, Chinese) spellings."""
    names = [normalise_header(name) for name in header]
    counts = {}
    for position, language in enumerate(LANGUAGE_NAMES):
        known = {normalise_header(spellings[position]) for spellings in headers.values() if len(spellings) > position}
        counts[language] = sum(name in known for name in names)
    english, chinese = counts["en"], counts["zh"]
    language = None if english == chinese else "en" if english > chinese else "zh"
    currencies = {found.group(1) for name in header if (found := _CURRENCY_IN_HEADER.search(name.strip()))}
    return HeaderFacts(language, currencies.pop() if len(currencies) == 1 else None)


def account_findings(facts: HeaderFacts, account: Partner) -> list[AccountFinding]:
    """The findings of one delivery whose headers say `facts`, for `account`."""
    findings = []
    if account.configured and facts.language and facts.language != account.header_language:
        findings.append(_finding("FILE.HEADER_LANGUAGE", (
            f"the headers are {LANGUAGE_NAMES[facts.language]}, but account {account.id} is on site {account.site}, "
            f"whose files have {LANGUAGE_NAMES[account.header_language]} headers; the rows are loaded")))
    if facts.currency and facts.currency != account.currency:
        findings.append(_finding("FILE.CURRENCY", (
            f"the amounts are in {facts.currency} (the headers say so), but account {account.id} is billed in "
            f"{account.currency}")))
    return findings


def _finding(rule_id: str, what: str) -> AccountFinding:
    return AccountFinding(rule_id, f"{what}: {rule(rule_id).action}")
