"""Every BILLRECON_* setting (listed in .env.example) and the resource field it feeds.

Values are handed to Dagster as `EnvVar`, which Dagster resolves at run time; only the presence of a
variable is looked at here (and whether BILLRECON_WAREHOUSE names a DuckLake and, without partners.toml,
which account its runs publish), so secrets are never read at import and never land in code or logs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from pipelines.lib.lakehouse import is_lake
from pipelines.lib.partners import FILE_VARIABLE, Partner, load_partners, run_partner_id
from pipelines.resources import (
    BssApiResource,
    ObjectStoreResource,
    ReportsResource,
    WarehouseResource,
    account_file,
    account_folder,
)
from schemas.memory import MEMORY_VARIABLE, budget_problem

# resource key -> {field: environment variable}
SETTINGS: dict[str, dict[str, str]] = {
    "object_store": {
        "endpoint_url": "BILLRECON_S3_ENDPOINT",
        "bucket": "BILLRECON_S3_BUCKET",
        "access_key": "BILLRECON_S3_ACCESS_KEY",
        "secret_key": "BILLRECON_S3_SECRET_KEY",
        "region": "BILLRECON_S3_REGION",
        "inbox_dir": "BILLRECON_INBOX_DIR",
    },
    "warehouse": {
        "path": "BILLRECON_WAREHOUSE",
        "landing_dir": "BILLRECON_LANDING_DIR",
        "published_path": "BILLRECON_PUBLISHED_WAREHOUSE",
        "memory_limit": "BILLRECON_MEMORY_LIMIT",
        "threads": "BILLRECON_DUCKDB_THREADS",
        "max_member_bytes": "BILLRECON_MAX_MEMBER_BYTES",
        "max_member_rows": "BILLRECON_MAX_MEMBER_ROWS",
        "hold_max_line_drop_percent": "BILLRECON_HOLD_MAX_LINE_DROP_PERCENT",
        "hold_max_customer_drop_percent": "BILLRECON_HOLD_MAX_CUSTOMER_DROP_PERCENT",
        "hold_max_lines_losing_agreement": "BILLRECON_HOLD_MAX_LINES_LOSING_AGREEMENT",
        "lease_timeout_seconds": "BILLRECON_LEASE_TIMEOUT_SECONDS",
        "lake_data_path": "BILLRECON_LAKE_DATA_PATH",
        "lake_s3_endpoint": "BILLRECON_LAKE_S3_ENDPOINT",
        "lake_s3_access_key": "BILLRECON_LAKE_S3_ACCESS_KEY",
        "lake_s3_secret_key": "BILLRECON_LAKE_S3_SECRET_KEY",
        "lake_s3_region": "BILLRECON_LAKE_S3_REGION",
    },
    "reports": {"out_dir": "BILLRECON_REPORTS_DIR", "focus_exports": "BILLRECON_FOCUS_EXPORTS"},
    "bss_api": {
        "endpoint": "BILLRECON_BSS_ENDPOINT",
        "access_key": "BILLRECON_BSS_AK",
        "secret_key": "BILLRECON_BSS_SK",
        "domain_id": "BILLRECON_BSS_DOMAIN_ID",
        "timeout_seconds": "BILLRECON_BSS_TIMEOUT_SECONDS",
        "max_attempts": "BILLRECON_BSS_MAX_ATTEMPTS",
        "max_retry_seconds": "BILLRECON_BSS_MAX_RETRY_SECONDS",
    },
}

_CLASSES = {
    "object_store": ObjectStoreResource,
    "warehouse": WarehouseResource,
    "reports": ReportsResource,
    "bss_api": BssApiResource,
}


def _is_int(resource_key: str, field: str) -> bool:
    return _CLASSES[resource_key].model_fields[field].annotation is int


WORKING_WAREHOUSE = "BILLRECON_WORKING_WAREHOUSE"


def _variables(resource_key: str, environ) -> dict[str, str]:
    """The resource's {field: variable}. When BILLRECON_WAREHOUSE names a DuckLake, it feeds the
    warehouse's `lake`, and its `path`, the partner's working file, comes from BILLRECON_WORKING_WAREHOUSE."""
    fields = SETTINGS[resource_key]
    if resource_key == "warehouse" and is_lake(environ.get(fields["path"], "")):
        return {**fields, "path": WORKING_WAREHOUSE, "lake": fields["path"]}
    return fields


# With partners.toml each account has its own working file, landing folder, snapshot and reports: the
# account's id is a folder inserted into each (warehouse/<id>/billrecon.duckdb, reports/out/<id>/), so
# accounts run side by side, each under its own lease, and never mix rows or packs. A run's resources
# are given the account's paths when it starts (`AccountResource.for_account`); `setting` gives the
# same paths to the command line, for the account of BILLRECON_PARTNER_ID.
PER_ACCOUNT_FILES = {("warehouse", "path"), ("warehouse", "published_path")}
PER_ACCOUNT_FOLDERS = {("warehouse", "landing_dir"), ("reports", "out_dir")}


def _default(resource_key: str, field: str, environ):
    if ((resource_key, field) == ("warehouse", "path") and "lake" in _variables(resource_key, environ)
            and not environ.get(FILE_VARIABLE)):
        # one working file per partner account: two accounts' runs never share a writer
        return f"warehouse/{run_partner_id(environ)}/billrecon.duckdb"
    return _CLASSES[resource_key].model_fields[field].default


def _for_account(resource_key: str, field: str, value, environ):
    if not environ.get(FILE_VARIABLE) or value is None:
        return value
    if (resource_key, field) in PER_ACCOUNT_FILES:
        return account_file(value, run_partner_id(environ))
    if (resource_key, field) in PER_ACCOUNT_FOLDERS:
        return account_folder(value, run_partner_id(environ))
    return value


def setting(resource_key: str, field: str, environ: os._Environ | dict | None = None):
    """The value a run will use for one field: its variable when set, else the field's default (with
    partners.toml, a path in the account's own folder)."""
    environ = os.environ if environ is None else environ
    text = environ.get(_variables(resource_key, environ).get(field, ""))
    if not text:
        value = _default(resource_key, field, environ)
    else:
        value = int(text) if _is_int(resource_key, field) else text
    return _for_account(resource_key, field, value, environ)


# variables an earlier version read, and what replaced them: set, they would be ignored without a word
RENAMED = {
    "BILLRECON_DUCKDB_MEMORY_LIMIT": "was renamed BILLRECON_MEMORY_LIMIT, now the run's whole memory budget "
                                     "(DuckDB gets half of it)",
}


# whole-number settings for which 0 cannot work, and why
AT_LEAST_ONE = {
    "BILLRECON_BSS_MAX_ATTEMPTS": "the first try is an attempt: 1 means no retry",
    "BILLRECON_BSS_TIMEOUT_SECONDS": "no answer comes in 0 seconds",
}


def invalid_settings(environ: os._Environ | dict | None = None) -> list[str]:
    """Set variables whose value the run could not use (a whole number expected), or that are no longer read."""
    environ = os.environ if environ is None else environ
    problems = [f"{variable} {change}" for variable, change in RENAMED.items() if environ.get(variable)]
    for key, fields in SETTINGS.items():
        for field, variable in fields.items():
            text = environ.get(variable)
            if text and _is_int(key, field) and not text.strip().isdigit():
                problems.append(f"{variable}={text!r} is not a whole number")
            elif text and variable in AT_LEAST_ONE and int(text) < 1:
                problems.append(f"{variable}={text!r} must be at least 1 ({AT_LEAST_ONE[variable]})")
    budget = environ.get(MEMORY_VARIABLE)
    problem = budget_problem(budget) if budget else None
    if problem:
        problems.append(f"{MEMORY_VARIABLE}={problem}")
    return problems


def resources_from_env(environ: os._Environ | dict | None = None) -> dict[str, dg.ConfigurableResource]:
    """Resources whose set fields come from EnvVar; unset variables keep the field's default. With
    BILLRECON_PARTNERS_FILE they serve every account of that file: each run takes the file source, BSS API
    and paths of its partition's account (`AccountResource`), so no account is chosen here."""
    environ = os.environ if environ is None else environ
    built = {}
    for key in SETTINGS:
        fields = _variables(key, environ)
        values = {field: dg.EnvVar(var) for field, var in fields.items() if environ.get(var)}
        cls = _CLASSES[key]
        for field in list(values):
            if _is_int(key, field):
                values[field] = dg.EnvVar.int(fields[field])
        if "lake" in fields:
            values.setdefault("path", _default(key, "path", environ))
        if environ.get(FILE_VARIABLE):
            values["partners_file"] = dg.EnvVar(FILE_VARIABLE)
        built[key] = cls(**values)
    return built


def configured_partner(environ: Mapping[str, str]) -> Partner:
    """The account of partners.toml this process's command is for (see `run_partner_id`)."""
    chosen = run_partner_id(environ)
    return next(partner for partner in load_partners(environ) if partner.id == chosen)
