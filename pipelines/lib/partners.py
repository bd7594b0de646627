"""The partner accounts billrecon serves, from `partners.toml` (its path in BILLRECON_PARTNERS_FILE).

Without that file, the BILLRECON_* settings of .env.example define one account, `default`. The file
holds no secret: it names the environment variables that hold each account's keys (`*_env` fields),
and those are read only when a run needs them (Dagster resolves them as EnvVar at run time).

    [[partner]]
    id = "acme-intl"                  # lowercase letters, digits, - and _: partitions, run tags and paths use it
    name = "ACME Cloud (international)"
    site = "intl"                     # intl: huaweicloudsdkbssintl, English headers; cn: huaweicloudsdkbss, Chinese
    currency = "USD"

    [partner.files]                   # the bucket HUAWEI CLOUD delivers the bill files to ...
    bucket = "acme-partner-bills"
    prefix = "acme/"
    endpoint = "https://obs.ap-southeast-1.myhuaweicloud.com"
    access_key_env = "ACME_OBS_ACCESS_KEY"
    secret_key_env = "ACME_OBS_SECRET_KEY"
    # ... or a folder with the same layout: inbox = "/srv/billrecon/inbox/acme"

    [partner.bss]                     # optional: without it, the API-fed parts are skipped
    endpoint = "https://bss-intl.myhuaweicloud.com"
    access_key_env = "ACME_BSS_AK"
    secret_key_env = "ACME_BSS_SK"
    domain_id = "0a1b2c..."           # not a secret; or domain_id_env
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

FILE_VARIABLE = "BILLRECON_PARTNERS_FILE"
PARTNER_VARIABLE = "BILLRECON_PARTNER_ID"
DEFAULT_PARTNER_ID = "default"


@dataclass(frozen=True)
class Site:
    sdk_package: str        # the official BSS SDK of the site
    header_language: str    # the language of the bill files' column headers


SITES = {"intl": Site("huaweicloudsdkbssintl", "en"), "cn": Site("huaweicloudsdkbss", "zh")}

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_CURRENCY = re.compile(r"[A-Z]{3}")
# fields that would hold a secret itself; the file names the variable holding it instead (field + "_env")
_SECRET_FIELDS = {"access_key", "secret_key", "ak", "sk", "password", "token"}


class PartnersConfigError(ValueError):
    """partners.toml cannot be used: one line per mistake."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FileSource:
    """Where the account's bill files arrive: a bucket (S3 API) or an inbox folder."""

    bucket: str | None = None
    prefix: str = ""
    endpoint: str | None = None
    region: str = "ap-southeast-1"
    access_key_env: str | None = None
    secret_key_env: str | None = None
    inbox: str | None = None


@dataclass(frozen=True)
class BssAccess:
    """The account's BSS partner API: endpoint, and the variables holding its AK/SK (and domain id)."""

    endpoint: str
    access_key_env: str
    secret_key_env: str
    domain_id: str | None = None
    domain_id_env: str | None = None


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    site: str
    currency: str
    files: FileSource
    bss: BssAccess | None = None
    configured: bool = True  # False for the one account of the BILLRECON_* settings, whose site is assumed

    @property
    def sdk_package(self) -> str:
        return SITES[self.site].sdk_package

    @property
    def header_language(self) -> str:
        return SITES[self.site].header_language

    def unset_variables(self, environ: Mapping[str, str]) -> list[str]:
        """The variables this account names for its keys (and domain id) that hold nothing."""
        names = [self.files.access_key_env, self.files.secret_key_env]
        if self.bss is not None:
            names += [self.bss.access_key_env, self.bss.secret_key_env, self.bss.domain_id_env]
        return [name for name in names if name and not environ.get(name)]


def load_partners(environ: Mapping[str, str] | None = None) -> list[Partner]:
    """The accounts of BILLRECON_PARTNERS_FILE, or the one the BILLRECON_* settings describe."""
    environ = os.environ if environ is None else environ
    path = environ.get(FILE_VARIABLE)
    if not path:
        return [partner_from_settings(environ)]
    return read_partners_file(Path(path))


def partner_account(partner_id: str, environ: Mapping[str, str] | None = None) -> Partner:
    """The account `partner_id` names: its entry in partners.toml, or the one account of the BILLRECON_*
    settings under that id."""
    environ = os.environ if environ is None else environ
    for partner in load_partners(environ):
        if partner.id == partner_id or not environ.get(FILE_VARIABLE):
            return replace(partner, id=partner_id)
    raise PartnersConfigError([f"{partner_id!r} is not an account of {environ[FILE_VARIABLE]}"])


def named_account(partner_id: str, environ: Mapping[str, str] | None = None) -> Partner | None:
    """The account of partners.toml `partner_id` names, for the reports to name; None without the file,
    whose one account the reports have never named."""
    account = partner_account(partner_id, environ)
    return account if account.configured else None


def run_partner_id(environ: Mapping[str, str] | None = None) -> str:
    """The account this process's runs are for: BILLRECON_PARTNER_ID, which partners.toml must list when
    BILLRECON_PARTNERS_FILE names one; else that file's only account; else `default`."""
    environ = os.environ if environ is None else environ
    chosen = (environ.get(PARTNER_VARIABLE) or "").strip()
    if not environ.get(FILE_VARIABLE):
        if chosen and not _ID.fullmatch(chosen):
            raise PartnersConfigError([f"{PARTNER_VARIABLE}={chosen!r} is not an account id: use lowercase letters, "
                                       "digits, - or _ (at most 63, starting with a letter or digit)"])
        return chosen or DEFAULT_PARTNER_ID
    ids = [partner.id for partner in load_partners(environ)]
    if chosen in ids or (not chosen and len(ids) == 1):
        return chosen or ids[0]
    problem = f"{PARTNER_VARIABLE}={chosen!r} is not" if chosen else f"{len(ids)} accounts are"
    raise PartnersConfigError([f"{problem} in {environ[FILE_VARIABLE]} ({', '.join(ids)}): set {PARTNER_VARIABLE} "
                               "to the account this run is for"])


def read_partners_file(path: Path) -> list[Partner]:
    if not path.is_file():
        raise PartnersConfigError([f"{path}: no such file ({FILE_VARIABLE} names it); create it or unset "
                                   f"{FILE_VARIABLE} to use the BILLRECON_* settings for one account"])
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PartnersConfigError([f"{path}: not valid TOML ({exc}); fix the file"]) from None
    return parse_partners(document, source=path.name)


def parse_partners(document: Mapping[str, Any], *, source: str = "partners.toml") -> list[Partner]:
    problems: list[str] = []
    unknown = sorted(set(document) - {"partner"})
    if unknown:
        problems.append(f"{source}: unknown top-level key(s) {', '.join(unknown)}; accounts are [[partner]] tables")
    entries = document.get("partner")
    if not isinstance(entries, list) or not entries:
        problems.append(f"{source}: no [[partner]] table: describe at least one account")
        raise PartnersConfigError(problems)
    partners, seen = [], {}
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: partner #{number}" + (f" ({entry['id']})" if isinstance(entry.get("id"), str) else "")
        partner = _parse_partner(entry, where, problems)
        if partner is None:
            continue
        if partner.id in seen:
            problems.append(f"{where}: duplicate id {partner.id!r}, already used by partner #{seen[partner.id]}; "
                            "every account needs its own id")
            continue
        seen[partner.id] = number
        partners.append(partner)
    if problems:
        raise PartnersConfigError(problems)
    return partners


def _parse_partner(entry: Mapping[str, Any], where: str, problems: list[str]) -> Partner | None:
    before = len(problems)
    _check_keys(entry, {"id", "name", "site", "currency", "files", "bss"}, where, problems)
    values = {key: _required_text(entry, key, where, problems) for key in ("id", "name", "site", "currency")}
    if values["id"] and not _ID.fullmatch(values["id"]):
        problems.append(f"{where}: id {values['id']!r} must be lowercase letters, digits, - or _ "
                        "(at most 63, starting with a letter or digit)")
    if values["site"] and values["site"] not in SITES:
        problems.append(f"{where}: site {values['site']!r} is unknown: use intl (international) or cn (China)")
    if values["currency"] and not _CURRENCY.fullmatch(values["currency"]):
        problems.append(f"{where}: currency {values['currency']!r} must be an ISO 4217 code such as USD or CNY")
    files = _parse_files(entry.get("files"), f"{where} files", problems)
    bss = _parse_bss(entry["bss"], f"{where} bss", problems) if "bss" in entry else None
    if len(problems) > before:
        return None
    return Partner(files=files, bss=bss, **values)


def _parse_files(table: Any, where: str, problems: list[str]) -> FileSource | None:
    if not isinstance(table, dict):
        problems.append(f"{where}: missing: give [partner.files] with a bucket (and its key variables) or an inbox")
        return None
    _check_keys(table, {"bucket", "prefix", "endpoint", "region", "access_key_env", "secret_key_env", "inbox"},
                where, problems)
    _check_env_names(table, where, problems)
    if bool(table.get("bucket")) == bool(table.get("inbox")):
        problems.append(f"{where}: give either bucket or inbox, not {'both' if table.get('bucket') else 'neither'}")
    if table.get("bucket"):
        for key in ("endpoint", "access_key_env", "secret_key_env"):
            if not table.get(key):
                problems.append(f"{where}: missing field {key} (a bucket needs its endpoint and the names of the "
                                "variables holding its keys)")
    return FileSource(**{key: table[key] for key in FileSource.__dataclass_fields__ if key in table})


def _parse_bss(table: Any, where: str, problems: list[str]) -> BssAccess | None:
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table [partner.bss]")
        return None
    _check_keys(table, {"endpoint", "access_key_env", "secret_key_env", "domain_id", "domain_id_env"}, where,
                problems)
    _check_env_names(table, where, problems)
    for key in ("endpoint", "access_key_env", "secret_key_env"):
        if not table.get(key):
            problems.append(f"{where}: missing field {key}")
    if not table.get("domain_id") and not table.get("domain_id_env"):
        problems.append(f"{where}: missing field domain_id (or domain_id_env): the partner's account id")
    return BssAccess(**{key: table.get(key) for key in ("endpoint", "access_key_env", "secret_key_env",
                                                        "domain_id", "domain_id_env")})


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str, problems: list[str]) -> None:
    for key in sorted(set(table) - allowed):
        if key.lower() in _SECRET_FIELDS:
            problems.append(f"{where}: {key} holds a secret written into the file, which is refused: put it in an "
                            f"environment variable and name that variable in {key.lower()}_env")
        else:
            problems.append(f"{where}: unknown field {key!r}; known: {', '.join(sorted(allowed))}")


def _check_env_names(table: Mapping[str, Any], where: str, problems: list[str]) -> None:
    for key, value in table.items():
        if key.endswith("_env") and value is not None and not (isinstance(value, str) and _ENV_NAME.fullmatch(value)):
            problems.append(f"{where}: {key} must name an environment variable (A-Z, 0-9, _), not hold the "
                            "value itself: put the value in that variable")


def _required_text(entry: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: missing field {key}")
        return None
    return value.strip()


def partner_from_settings(environ: Mapping[str, str]) -> Partner:
    """The one account of a deployment without partners.toml, from the BILLRECON_* settings."""
    endpoint = environ.get("BILLRECON_BSS_ENDPOINT") or None
    files = FileSource(bucket=None if environ.get("BILLRECON_INBOX_DIR") else environ.get("BILLRECON_S3_BUCKET",
                                                                                           "billrecon"),
                       endpoint=environ.get("BILLRECON_S3_ENDPOINT") or None,
                       region=environ.get("BILLRECON_S3_REGION") or "ap-southeast-1",
                       access_key_env="BILLRECON_S3_ACCESS_KEY", secret_key_env="BILLRECON_S3_SECRET_KEY",
                       inbox=environ.get("BILLRECON_INBOX_DIR") or None)
    bss = BssAccess(endpoint=endpoint, access_key_env="BILLRECON_BSS_AK", secret_key_env="BILLRECON_BSS_SK",
                    domain_id_env="BILLRECON_BSS_DOMAIN_ID") if endpoint else None
    # the settings have always meant the international site, billed in USD
    return Partner(id=DEFAULT_PARTNER_ID, name="the partner of the BILLRECON_* settings", site="intl",
                   currency="USD", files=files, bss=bss, configured=False)
