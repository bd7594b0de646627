"""Refusing a request that cannot work, before anything runs: one line, exit 2, nothing changed.

What every command checks first: the month against the pipeline's bill cycles, the paths it was given
(empty, a file where a folder is needed, a folder this user cannot create or write), the warehouse
file (or the DuckLake's working file) it names, and the file sources and settings a run would use.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class UserError(Exception):
    """A bad request the user can fix (bad option, missing configuration): shown as one line, exit 2,
    and nothing was run."""


def warehouse_file(option: str | None) -> Path:
    """The DuckDB file a command works on: --warehouse FILE as given, else BILLRECON_WAREHOUSE or the
    default. A DuckLake, given as --warehouse ducklake:… (as `run` takes it) or in BILLRECON_WAREHOUSE,
    names the account's working file (BILLRECON_WORKING_WAREHOUSE): its runs build each month there, holds
    included, and only publish the month to the lake. A PartnersConfigError when the account is unclear."""
    from pipelines.lib.lakehouse import is_lake
    from pipelines.settings import setting

    if option and not is_lake(option):
        return Path(option)
    environ = {**os.environ, "BILLRECON_WAREHOUSE": option} if option else os.environ
    return Path(setting("warehouse", "path", environ))


def names_a_lake(option: str | None) -> bool:
    """Whether the command's warehouse is a DuckLake (--warehouse, else BILLRECON_WAREHOUSE)."""
    from pipelines.lib.lakehouse import is_lake

    return is_lake(option or os.environ.get("BILLRECON_WAREHOUSE", ""))


def missing_warehouse(warehouse: Path, option: str | None, consequence: str) -> UserError:
    """The line for a warehouse file that does not exist; with a DuckLake, the working file it names."""
    if names_a_lake(option):
        return UserError(f"the working file {warehouse} of the DuckLake's runs (BILLRECON_WORKING_WAREHOUSE, "
                         f"default warehouse/<partner id>/billrecon.duckdb) does not exist: {consequence}; run this "
                         "where the account's runs keep it, with their BILLRECON_WORKING_WAREHOUSE")
    return UserError(f"warehouse {warehouse} does not exist: {consequence}")


def check_request(month: str | None, warehouse: Path, reports_dir: Path | None, *, writes: bool = True,
                  reports_option: str = "--reports", warehouse_option: str = "--warehouse") -> None:
    """Refuse, before anything runs, what cannot work: a month outside the bill cycles, paths that
    are files where folders are needed (or the reverse), a warehouse path that is no DuckDB file,
    settings the run could not use, and for a command that `writes` the warehouse (or takes its
    lease), folders this user cannot create or write and the snapshot published for analysts.
    `reports_dir` None: the command writes no reports. The options name where a path was chosen
    (`chosen_by`)."""
    from pipelines.lib.publish import default_published_path, writing_the_snapshot
    from pipelines.lib.warehouse import NotAWarehouse, check_warehouse_file
    from pipelines.settings import invalid_settings, setting

    problems = invalid_settings()
    if problems:
        raise UserError(settings_line(problems))
    if month is not None:
        first, last = bill_cycle_span()
        if not first <= month <= last:
            raise UserError(f"{month} is not a bill cycle of this pipeline: give a month from {first} to {last} "
                            "(the open month)")
    if reports_dir is not None:
        check_folder(reports_dir, reports_option)
    # a command that only reads the warehouse may read it from a folder it cannot write
    check_folder(warehouse.parent, f"the folder of {warehouse_option}", trial=writes)
    try:
        check_warehouse_file(warehouse)
    except NotAWarehouse as exc:
        raise UserError(str(exc)) from None
    if writes:
        published = setting("warehouse", "published_path")
        problem = writing_the_snapshot(warehouse, Path(published) if published else default_published_path(warehouse))
        if problem:
            raise UserError(problem)


def chosen_by(option: str, given: str | None, variable: str) -> str:
    """Where a path came from, to name in a refusal: the option when given, else its variable when
    set, else the option (which changes the default)."""
    return variable if not given and os.environ.get(variable) else option


def settings_line(problems: list[str]) -> str:
    """The one line refusing settings a run could not use."""
    return "; ".join(problems) + ": fix the variable (see .env.example) or unset it"


def bill_cycle_span() -> tuple[str, str]:
    """The first and the last bill cycle of the pipeline ('YYYY-MM'), the last the open month: a run's
    month must lie between them."""
    from pipelines.partitions import bill_cycle_partitions

    cycles = bill_cycle_partitions.get_partition_keys()
    return cycles[0], cycles[-1]


# the help of the options the warehouse commands share
WAREHOUSE_HELP = ("warehouse file (default BILLRECON_WAREHOUSE or warehouse/billrecon.duckdb); ducklake:… names the "
                  "account's working file (BILLRECON_WORKING_WAREHOUSE)")
REPORTS_HELP = "reports folder (default BILLRECON_REPORTS_DIR or reports/out)"
# what to give instead of "" for those options
WAREHOUSE_GIVEN = "the path of the warehouse file, or leave --warehouse out for its default"


REPORTS_GIVEN = "the path of a folder for the month-close packs, or leave --reports out for its default"


NOT_A_FOLDER = "is a file, not a folder"


def check_given(value: str | None, option: str, what: str) -> None:
    """Refuse a path option given as "": Path("") is the current folder, which the command would then
    write into (or, for an option with a default, the default would be taken without a word)."""
    if value == "":
        raise UserError(f"{option} is empty: give {what}")


def check_folder(folder: Path, option: str, *, trial: bool = True) -> None:
    """Refuse a folder a command cannot write its output into, before anything is written (see
    `folder_problem`)."""
    problem = folder_problem(folder, trial=trial)
    if problem is None:
        return
    if problem.endswith(NOT_A_FOLDER):
        advice = "give the path of a folder (it is created when missing)"
    else:
        advice = "give the path of a folder this user can create and write"
    raise UserError(f"{option} {folder} {problem}: {advice}")


def folder_problem(folder: Path, *, created: bool = True, trial: bool = True) -> str | None:
    """What keeps a command from writing into `folder`, said after its path; None: nothing. A file
    where it or a folder above it should be; with `created` False, a folder that does not exist;
    with `trial`, a folder this user cannot create or write, found by creating a temporary folder
    in it (or in the folder above it that exists) and removing it at once: a test of the path would
    miss the file systems that refuse in their own way (/proc answers ENOENT), and creating the
    folder itself would leave it behind for a request refused later."""
    try:
        os.stat(folder)
    except OSError as exc:  # a name longer than the file system takes: nothing could be written there
        if exc.errno == errno.ENAMETOOLONG:
            return f"cannot be created ({exc.strerror})"
    # os.path.exists: False, not an error, for a path this user may not look into
    existing = next(path for path in (folder, *folder.parents)
                    if os.path.exists(path) or path == Path(path.anchor))
    if not existing.is_dir():
        if existing == folder:
            return NOT_A_FOLDER
        return f"cannot be created: {existing} {NOT_A_FOLDER}" if created else \
            f"does not exist ({existing} {NOT_A_FOLDER})"
    if not created and existing != folder:
        return "does not exist"
    if trial:
        import tempfile

        try:
            os.rmdir(tempfile.mkdtemp(prefix=".billrecon-check-", dir=existing))
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            return f"cannot be written ({reason})" if existing == folder else \
                f"cannot be created in {existing} ({reason})"
    return None


INBOX_REFUSED = ("--inbox cannot be used with BILLRECON_PARTNERS_FILE: each account's file source is its "
                 "[partner.files] in that file")


def check_sources(args) -> None:
    """Refuse a run whose file source or BSS API cannot be reached for want of a setting: with
    partners.toml, those its account names; without it, the BILLRECON_* settings."""
    from pipelines.lib.partners import FILE_VARIABLE, PartnersConfigError
    from pipelines.settings import configured_partner

    if os.environ.get(FILE_VARIABLE):
        if args.inbox:
            raise UserError(INBOX_REFUSED)
        try:
            partner = configured_partner(os.environ)
        except PartnersConfigError as exc:
            raise UserError(str(exc)) from None
        unset = partner.unset_variables(os.environ)
        if unset:
            raise UserError(f"account {partner.id} names {', '.join(unset)} in {os.environ[FILE_VARIABLE]} for its "
                            "keys, but they are not set: set them in the environment of the run")
        if partner.files.inbox:
            check_inbox(partner.files.inbox, f"{os.environ[FILE_VARIABLE]}: account {partner.id}: [partner.files] "
                                             "inbox")
        return
    if not (os.environ.get("BILLRECON_S3_ENDPOINT") or os.environ.get("BILLRECON_INBOX_DIR")):
        raise UserError("no file source configured: pass --inbox DIR, or set BILLRECON_S3_ENDPOINT (and the bucket "
                        "and keys) or BILLRECON_INBOX_DIR; see .env.example")
    if os.environ.get("BILLRECON_INBOX_DIR"):
        check_inbox(os.environ["BILLRECON_INBOX_DIR"], "BILLRECON_INBOX_DIR")
    if not os.environ.get("BILLRECON_INBOX_DIR"):  # the inbox comes first: the bucket's settings are not read
        _check_endpoint("BILLRECON_S3_ENDPOINT", "https://obs.ap-southeast-1.myhuaweicloud.com")
        _check_companions("BILLRECON_S3_ENDPOINT",
                          ("BILLRECON_S3_BUCKET", "BILLRECON_S3_ACCESS_KEY", "BILLRECON_S3_SECRET_KEY"),
                          "or give the files' folder instead (--inbox DIR or BILLRECON_INBOX_DIR)")
    _check_companions("BILLRECON_BSS_ENDPOINT", ("BILLRECON_BSS_AK", "BILLRECON_BSS_SK", "BILLRECON_BSS_DOMAIN_ID"),
                      "or unset BILLRECON_BSS_ENDPOINT to run on the files alone")


def check_inbox(folder: str, setting: str) -> None:
    """Refuse an inbox that is not a folder, naming where it was given."""
    if not Path(folder).is_dir():
        raise UserError(f"{setting} {folder} is not a folder")


def _check_companions(variable: str, companions: tuple[str, ...], otherwise: str) -> None:
    """Refuse `variable` set without the variables it cannot be used without."""
    missing = [name for name in companions if os.environ.get(variable) and not os.environ.get(name)]
    if missing:
        raise UserError(f"{variable} is set but not {', '.join(missing)}: set them (see .env.example), {otherwise}")


def _check_endpoint(variable: str, example: str) -> None:
    """Refuse an endpoint that is not an http(s) URL with a host (boto3 would take it for a bug)."""
    from urllib.parse import urlsplit

    value = os.environ.get(variable)
    if not value:
        return
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # a port that is not a number
        valid = False
    if not valid:
        raise UserError(f"{variable}={value!r} is not an http(s) URL: give the endpoint with its scheme, "
                        f"e.g. {example}")


def check_other_folders() -> None:
    """The landing folder and the published snapshot's folder a run writes, when set apart from the
    warehouse's folder (which `check_request` checked)."""
    from pipelines.lib.lakehouse import is_lake
    from pipelines.settings import setting

    landing = setting("warehouse", "landing_dir")
    if landing:
        check_folder(Path(landing), "BILLRECON_LANDING_DIR")
    published = setting("warehouse", "published_path")
    if published and not is_lake(os.environ.get("BILLRECON_WAREHOUSE", "")):  # a lake's run publishes to it
        check_folder(Path(published).parent, "the folder of BILLRECON_PUBLISHED_WAREHOUSE")
