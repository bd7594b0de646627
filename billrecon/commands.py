"""What the `billrecon` sub-commands on a warehouse do (`run`, `accept`, `report`), and what every
sub-command shares: the one line of a failure, the warehouse lease, running one cycle. Refusing a
request that cannot work is `billrecon.refusals`. The commands of the synthetic world (`demo`,
`generate`, `sandbox serve`) are in `billrecon.sandbox_commands`."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from billrecon.refusals import (
    REPORTS_GIVEN,
    WAREHOUSE_GIVEN,
    UserError,
    check_given,
    check_inbox,
    check_other_folders,
    check_request,
    check_sources,
    chosen_by,
    missing_warehouse,
    warehouse_file,
)


class RunFailed(Exception):
    """A run that failed: its message is the one line for the terminal, `details` go to the log."""

    def __init__(self, line: str, details: str):
        super().__init__(line)
        self.details = details


def failure_of(exc: BaseException) -> tuple[str, str | None]:
    """The one line for any failure, and its details when they are not the current traceback."""
    from pipelines.lib.failures import describe

    if isinstance(exc, RunFailed):
        return str(exc), exc.details
    line = describe(exc)
    if line is None:
        line = (f"unexpected error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): "
                "this is a bug in billrecon; please report it with the log")
    return line, None


def warehouse_path(args) -> Path | None:
    """The warehouse a command works on (its folder keeps the logs); None for commands without a
    --warehouse option."""
    from pipelines.lib.partners import PartnersConfigError

    if not hasattr(args, "warehouse"):
        return None
    try:
        return warehouse_file(args.warehouse)
    except PartnersConfigError:  # no one account (the run of every account): each child logs in its own
        return None


@contextlib.contextmanager
def writing(warehouse: Path):
    """Hold the warehouse lease (one writer at a time) for the block, waiting for a run that holds it."""
    from pipelines.lib.lease import hold_lease
    from pipelines.settings import setting

    timeout = setting("warehouse", "lease_timeout_seconds")

    def waiting(holder) -> None:
        if sys.stderr.isatty():  # for a person watching; a log of the nightly run gets the outcome only
            print(f"waiting for {holder.describe()} to finish writing {warehouse} (up to {timeout} s)",
                  file=sys.stderr, flush=True)

    with hold_lease(warehouse, timeout, on_wait=waiting):
        yield


# `billrecon run` finished, but a re-delivery is held and the month keeps its previous delivery:
# not a crash (1) nor a usage error (2), and not a silent 0, so that a schedule notices
EXIT_HELD = 3


def run_cycle_with_progress(cycle: str, resources: dict, instance=None, partner_id: str | None = None):
    """Run one account's cycle (None: the one account of the settings) on `instance` (None: a throwaway
    one): its outcome, and its progress line."""
    from pipelines.runner import run_cycle

    t0 = time.monotonic()
    outcome = run_cycle(cycle, resources, partner_id=partner_id, instance=instance)
    return outcome, progress_line(outcome, time.monotonic() - t0)


def progress_line(outcome, seconds: float) -> str:
    """`done in 3.2 s`, then the checks that did not pass: a failed (error) check is a fault to look
    into; a warning check is a finding to read in the pack (the demo plants some), said apart. A run
    with nothing new says which run's outputs it kept."""
    checks = "".join(f"; {label}: {', '.join(names)}" for label, names in (
        ("failed checks", outcome.error_checks), ("checks with findings to review", outcome.warning_checks)) if names)
    reused = f"; {outcome.reused.line()}" if outcome.reused is not None else ""
    note = f"; {outcome.note}" if outcome.note else ""
    return f"done in {seconds:.1f} s{reused}{note}{checks}"


def print_outcome(warehouse: Path, reports_dir: Path, cycles: list[str]) -> None:
    """The figures of each cycle, then where its reports and the warehouse are."""
    from pipelines.lib.lakehouse import is_lake
    from pipelines.lib.publish import default_published_path
    from pipelines.lib.warehouse import connect
    from pipelines.settings import setting
    from reports.run_summary import figures_table

    if not warehouse.exists():
        return
    con = connect(warehouse, read_only=True)
    try:
        print()
        for line in figures_table(con, cycles):
            print(line)
    finally:
        con.close()
    print()
    print("Reports:")
    for cycle in cycles:
        html = reports_dir / cycle / f"month_close_{cycle}.html"
        xlsx = reports_dir / cycle / f"month_close_{cycle}.xlsx"
        if html.exists():
            print(f"  {cycle}: {html}")
            print(f"  {' ' * len(cycle)}  {xlsx}")
        flashes = sorted((reports_dir / cycle).glob("daily_flash_*.html"))
        if flashes:
            print(f"  {' ' * len(cycle)}  {flashes[-1]}  (daily flash of the open month)")
    published = Path(setting("warehouse", "published_path") or default_published_path(warehouse))
    if is_lake(os.environ.get("BILLRECON_WAREHOUSE", "")):
        print(f"Warehouse: the DuckLake of BILLRECON_WAREHOUSE, data in {os.environ.get('BILLRECON_LAKE_DATA_PATH')}  "
              "(analysts attach it read-only: docs/architecture.md)")
    else:
        print(f"Warehouse: {published}  (read-only snapshot for analysts, replaced atomically after each run)")
    print(f"           {warehouse}  (the pipeline's working file)")


def account_has_bss_api() -> bool:
    """Whether the BSS API of this process's account is configured: its [partner.bss] in partners.toml,
    else BILLRECON_BSS_ENDPOINT."""
    from pipelines.lib.partners import partner_account, run_partner_id

    return partner_account(run_partner_id()).bss is not None


def run(args) -> int:
    """One account's month in this process; with partners.toml and no BILLRECON_PARTNER_ID (or with
    --partner), each selected account's month as a child process (billrecon/partner_runs.py)."""
    from billrecon import run_limit
    from billrecon.interrupts import Interrupted, interrupted_line
    from pipelines.lib.lake_publish import lake_problem
    from pipelines.lib.lakehouse import is_lake
    from pipelines.lib.partners import FILE_VARIABLE, PARTNER_VARIABLE, run_partner_id
    from pipelines.settings import WORKING_WAREHOUSE, resources_from_env, setting

    check_given(args.inbox, "--inbox", "the path of the folder the files arrive in")
    check_given(args.warehouse, "--warehouse", WAREHOUSE_GIVEN)
    check_given(args.reports, "--reports", REPORTS_GIVEN)
    reports_option = chosen_by("--reports", args.reports, "BILLRECON_REPORTS_DIR")
    warehouse_option = chosen_by("--warehouse", args.warehouse, "BILLRECON_WAREHOUSE")
    # command-line options override the environment, and travel to Dagster the same way (EnvVar)
    if args.inbox:
        check_inbox(args.inbox, "--inbox")
        os.environ["BILLRECON_INBOX_DIR"] = str(Path(args.inbox).resolve())
    if args.warehouse:
        os.environ["BILLRECON_WAREHOUSE"] = args.warehouse
    if args.reports:
        os.environ["BILLRECON_REPORTS_DIR"] = args.reports
    if args.max_runtime is not None:
        os.environ[run_limit.VARIABLE] = str(args.max_runtime)
    try:
        max_runtime = run_limit.max_runtime_seconds(os.environ)
    except run_limit.BadRunLimit as exc:
        raise UserError(str(exc)) from None
    if os.environ.get(FILE_VARIABLE) and (args.partner or not os.environ.get(PARTNER_VARIABLE)):
        from billrecon.partner_runs import run_accounts

        return run_accounts(args)  # each account as its own `billrecon run`, which comes back here
    if args.partner or args.parallel:
        raise UserError(f"--partner and --parallel choose accounts of partners.toml: set {FILE_VARIABLE} to it")
    check_sources(args)
    problem = lake_problem()  # with a DuckLake: the account, the settings, the catalog, the data path
    if problem:
        raise UserError(problem)
    warehouse, reports_dir = Path(setting("warehouse", "path")), Path(setting("reports", "out_dir"))
    if is_lake(os.environ.get("BILLRECON_WAREHOUSE", "")):  # the lake's working file has its own variable
        warehouse_option = WORKING_WAREHOUSE
    check_request(args.month, warehouse, reports_dir, reports_option=reports_option,
                  warehouse_option=warehouse_option)
    check_other_folders()
    resources = resources_from_env()
    with writing(warehouse), run_limit.time_limit(args.month, max_runtime, warehouse):
        # the partition of the account's month: the run's resources take the account's sources from it
        outcome, progress = run_cycle_with_progress(args.month, resources, partner_id=run_partner_id())
        if outcome.interrupted:
            raise Interrupted(interrupted_line(args.month, outcome.failure))
        if not outcome.success:
            # one line; nothing of the failed run is summarised (its marts may not exist yet)
            raise RunFailed(f"{args.month} failed: {outcome.failure}", outcome.details)
        print(f"{args.month} {progress}")
        if not account_has_bss_api():
            unset = ("its account has no [partner.bss] in partners.toml" if os.environ.get("BILLRECON_PARTNERS_FILE")
                     else "BILLRECON_BSS_ENDPOINT is not set")
            print(f"note: {unset}; the parts fed by the BSS partner API are skipped "
                  "(the report says so). Everything fed by the files is built.")
        print_outcome(warehouse, reports_dir, [args.month])  # under the lease: the next run waits for it
        held = _print_holds(warehouse, args.month)
    return EXIT_HELD if held else 0


def _print_holds(warehouse: Path, bill_cycle: str) -> list:
    """Say plainly which re-deliveries are held from the month (one line each); returns them."""
    from pipelines.lib.holds import open_holds
    from pipelines.lib.warehouse import connect

    con = connect(warehouse, read_only=True)
    try:
        held = open_holds(con, bill_cycle)
    finally:
        con.close()
    for delivery in held:
        print(f"HELD: {delivery.message}")
    return held


def accept(args) -> int:
    import getpass

    from pipelines.lib.holds import NothingHeld, release
    from pipelines.lib.warehouse import connect, ensure_schema

    check_given(args.warehouse, "--warehouse", WAREHOUSE_GIVEN)
    warehouse = warehouse_file(args.warehouse)  # with a DuckLake, the working file: runs read holds there
    if not warehouse.exists():
        raise missing_warehouse(warehouse, args.warehouse, "nothing is held")
    check_request(None, warehouse, None, warehouse_option=chosen_by("--warehouse", args.warehouse,
                                                                    "BILLRECON_WAREHOUSE"))
    with writing(warehouse):
        con = connect(warehouse)
        try:
            ensure_schema(con)
            released = release(con, args.key, args.etag, released_by=getpass.getuser())
        except NothingHeld as exc:
            raise UserError(str(exc)) from None
        finally:
            con.close()
    applies = (f"The next run of {released.bill_cycle} (`billrecon run --month {released.bill_cycle}`) applies it"
               if released.bill_cycle else "The next run of each month (`billrecon run --month YYYY-MM`) applies it "
                                           "to that month")
    restated = "; marts.restatement will show what it changed" if released.source == "customerBill" else ""
    print(f"released {released.object_key} (ETag {released.etag}), held since {released.held_at:%Y-%m-%d %H:%M} "
          f"UTC for: {released.reason}. {applies}{restated}.")
    return 0


def report(args) -> int:
    from pipelines.lib.failures import writing_into
    from pipelines.lib.fingerprint import built_cycles
    from pipelines.lib.partners import named_account, run_partner_id
    from pipelines.lib.warehouse import connect
    from pipelines.settings import setting
    from reports.exports import RULES_TABLE
    from reports.month_close import missing_required_tables, render_month_close
    from reports.notes import api_absent_note, api_pulled, bill_file_loads, report_notes

    check_given(args.warehouse, "--warehouse", WAREHOUSE_GIVEN)
    check_given(args.reports, "--reports", REPORTS_GIVEN)
    warehouse = warehouse_file(args.warehouse)  # with a DuckLake, the working file the runs render from
    out_dir = Path(args.reports or setting("reports", "out_dir"))
    reports_option = chosen_by("--reports", args.reports, "BILLRECON_REPORTS_DIR")
    check_request(args.month, warehouse, out_dir, reports_option=reports_option,
                  warehouse_option=chosen_by("--warehouse", args.warehouse, "BILLRECON_WAREHOUSE"))
    if not warehouse.exists():
        raise missing_warehouse(warehouse, args.warehouse, f"run `billrecon run --month {args.month}` first")
    with writing(warehouse):  # a run writing meanwhile holds the file, and would write the same pack
        con = connect(warehouse, read_only=True)
        try:
            missing = missing_required_tables(con)
            if missing == [RULES_TABLE]:  # the marts of a release before the rules catalogue
                raise UserError(f"{warehouse} was built by an earlier release of billrecon (it has no {RULES_TABLE}): "
                                f"run `billrecon run --month {args.month}` again, which rebuilds the month and "
                                "writes its pack")
            if missing:
                raise UserError(f"{args.month} has not been built: {warehouse} has no {', '.join(missing)} (no "
                                f"run finished on it); run `billrecon run --month {args.month}` first")
            built = built_cycles(con)
            if args.month not in built:  # else its pack would say the bill file is missing, as for an open month
                raise UserError(f"{args.month} has not been built in {warehouse} (its built months: "
                                f"{month_spans(built) or 'none yet'}); run `billrecon run --month {args.month}` "
                                "first, which builds the month and writes its pack")
            loads, lines_read = bill_file_loads(con, args.month)
            # the pack describes the warehouse, not this shell: whether the month was built with the BSS
            # API is what the warehouse holds of it, whatever BILLRECON_BSS_* say now
            api_used = api_pulled(con, args.month)
            notes = report_notes(api_used, loads > 0, args.month, lines_read, api_note=api_absent_note(args.month))
            with writing_into({out_dir: reports_option}):  # a folder that fails after the check above
                written = render_month_close(con, args.month, out_dir / args.month, notes, api_configured=api_used,
                                             account=named_account(run_partner_id()))
        finally:
            con.close()
    print(f"{written.html}\n{written.xlsx}")
    return 0


def month_spans(cycles: list[str]) -> str:
    """Sorted months as spans of consecutive ones: `2026-08 to 2026-10, 2026-12`."""
    from schemas.bill_cycle import BillCycle

    spans: list[list[BillCycle]] = []
    for cycle in map(BillCycle.parse, cycles):
        if spans and spans[-1][1].shift(1) == cycle:
            spans[-1][1] = cycle
        else:
            spans.append([cycle, cycle])
    return ", ".join(str(first) if first == last else f"{first} to {last}" for first, last in spans)
