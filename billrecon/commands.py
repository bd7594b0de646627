"""What each `billrecon` sub-command does. The demo wires the sandbox to the pipeline here, so that
the pipeline itself never imports the sandbox."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from datetime import date
from pathlib import Path


class UserError(Exception):
    """A bad request the user can fix (bad option, missing configuration): shown as one line, exit 2,
    and nothing was run."""


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
    from pipelines.lib.lakehouse import is_lake
    from pipelines.settings import setting

    if not hasattr(args, "warehouse"):
        return None
    if args.warehouse and not is_lake(args.warehouse):  # a lake's logs go beside the working file
        return Path(args.warehouse)
    return Path(setting("warehouse", "path"))


def check_request(month: str | None, warehouse: Path, reports_dir: Path | None) -> None:
    """Refuse, before anything runs, what cannot work: a month outside the bill cycles, paths that
    are files where folders are needed (or the reverse), a warehouse path that is no DuckDB file,
    settings the run could not use. `reports_dir` None: the command writes no reports."""
    from pipelines.lib.warehouse import NotAWarehouse, check_warehouse_file
    from pipelines.partitions import bill_cycle_partitions
    from pipelines.settings import invalid_settings

    problems = invalid_settings()
    if problems:
        raise UserError("; ".join(problems) + ": fix the variable (see .env.example) or unset it")
    if month is not None:
        cycles = bill_cycle_partitions.get_partition_keys()
        if month not in cycles:
            raise UserError(f"{month} is not a bill cycle of this pipeline: give a month from {cycles[0]} to "
                            f"{cycles[-1]} (the open month)")
    if reports_dir is not None:
        _check_folder(reports_dir, "--reports")
    _check_folder(warehouse.parent, "the folder of --warehouse")
    try:
        check_warehouse_file(warehouse)
    except NotAWarehouse as exc:
        raise UserError(str(exc)) from None


def _check_folder(folder: Path, option: str) -> None:
    existing = next(path for path in (folder, *folder.parents) if path.exists() or path == Path(path.anchor))
    if not existing.is_dir():
        problem = "is a file" if existing == folder else f"cannot be created: {existing} is a file"
        raise UserError(f"{option} {folder} {problem}, not a folder: give the path of a folder (it is created "
                        "when missing)")


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


def _world_config(args, first_month: str | None = None):
    from sandbox.world import WorldConfig

    return WorldConfig(
        seed=args.seed, customers=args.customers, resellers=args.resellers, closed_months=args.months,
        lines_per_month=args.lines, first_month=args.first_month or first_month or _months_ago(args.months),
        header_language=args.header_language, usage_export_days=max(1, date.today().day - 1),
        anomalies=getattr(args, "anomalies", 0),   # only `generate` and `demo` offer --anomalies
    )


def _months_ago(count: int, today: date | None = None) -> str:
    today = today or date.today()
    index = today.year * 12 + today.month - 1 - count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def generate(args) -> int:
    from sandbox.world import generate_world
    from sandbox.writer import write_world

    world = generate_world(_world_config(args))
    paths = write_world(world, Path(args.out))
    print(f"wrote {len(paths)} files under {args.out} (closed months {', '.join(world.closed_months)}; "
          f"open month {world.open_month})")
    if world.config.anomalies:
        print(f"planted {len(world.planted)} anomalies, listed in {Path(args.out) / 'ground_truth.json'}")
    return 0


def demo(args) -> int:
    started = time.monotonic()
    warehouse = Path(args.warehouse)
    world_dir = Path(args.world_dir)
    check_request(None, warehouse, Path(args.reports))
    with writing(warehouse):
        return _demo(args, warehouse, world_dir, started)


def _demo(args, warehouse: Path, world_dir: Path, started: float) -> int:
    from pipelines.instance import project_instance
    from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
    from sandbox.bss import BssEmulator
    from sandbox.objectstore import LocalS3Server, make_s3_client, upload_tree
    from sandbox.world import generate_world
    from sandbox.writer import write_world

    # the demo starts from nothing: a fresh world, warehouse and landing folder
    for stale in (world_dir, warehouse.parent / "landing"):
        shutil.rmtree(stale, ignore_errors=True)
    warehouse.unlink(missing_ok=True)

    config = _world_config(args)
    print(f"[1/4] generating a partner world (seed {config.seed}, {config.customers} customers, "
          f"{config.closed_months} closed months from {config.first_month}, ~{config.lines_per_month} lines/month)")
    world = generate_world(config)
    paths = write_world(world, world_dir)
    print(f"      {len(paths)} files written under {world_dir}")
    if config.anomalies:
        _print_planted(world, world_dir)

    world.api_data.prepare()  # the emulator answers from this; built now rather than on the first request
    with LocalS3Server() as s3, BssEmulator(world) as bss:
        bucket = "billrecon-demo"
        client = make_s3_client(s3.endpoint_url, s3.access_key, s3.secret_key)
        keys = upload_tree(client, bucket, world_dir)
        print(f"[2/4] local S3 server at {s3.endpoint_url}: {len(keys)} objects in bucket {bucket}")
        print(f"      BSS API emulator at {bss.endpoint_url} "
              "(signed calls, paging, throttling at the documented rates)")
        resources = {
            "object_store": ObjectStoreResource(endpoint_url=s3.endpoint_url, bucket=bucket,
                                                access_key=s3.access_key, secret_key=s3.secret_key),
            "warehouse": WarehouseResource(path=str(warehouse)),
            # the demo's packs hold the FOCUS files too; a nightly close writes them only when asked
            "reports": ReportsResource(out_dir=args.reports, focus_exports=1),
            "bss_api": BssApiResource(endpoint=bss.endpoint_url, access_key=bss.access_key,
                                      secret_key=bss.secret_key, domain_id=bss.domain_id),
        }
        cycles = [*world.closed_months, world.open_month]
        print(f"[3/4] closing {len(cycles)} months through the pipeline (files and BSS API → landing → staging → "
              "core → marts → reports)")
        # a kept instance, so that `make dev` shows these runs, materializations and checks
        instance = project_instance(Path(args.dagster_home))
        failed = []
        try:
            for index, cycle in enumerate(cycles, start=1):
                print(f"      [{index}/{len(cycles)}] {cycle} … ", end="", flush=True)
                outcome, progress = _run_cycle(cycle, resources, instance)
                print(progress if outcome.success else f"FAILED: {outcome.failure}")
                if not outcome.success:
                    failed.append(outcome)
        finally:
            instance.dispose()
    print("[4/4] sandbox stopped")
    _print_outcome(warehouse, Path(args.reports), cycles)
    print(f"Dagster:   {Path(args.dagster_home).resolve()}  (the runs of this demo; `make dev` shows them)")
    print(f"done in {time.monotonic() - started:.0f} s")
    if failed:
        raise RunFailed(f"{len(failed)} month(s) failed, the first {failed[0].bill_cycle}: {failed[0].failure}",
                        "\n\n".join(outcome.details for outcome in failed))
    return 0


def _print_planted(world, world_dir: Path) -> None:
    """The planted anomalies, labelled as such: each is a finding the packs will show on purpose."""
    print(f"      {len(world.planted)} anomalies planted on purpose, so the packs show what each finding looks "
          f"like (--anomalies 0 for a clean world); listed in {world_dir / 'ground_truth.json'}:")
    for record in world.ground_truth:
        where = " ".join(str(record[key]) for key in ("bill_cycle", "customer_id", "reference") if record[key])
        amount = f"  {record['amount']}" if record["amount"] is not None else ""
        print(f"        {record['rule_id']:<36} {where}{amount}")


def _run_cycle(cycle: str, resources: dict, instance=None):
    """Run one cycle on `instance` (None: a throwaway one): its outcome, and its progress line."""
    from pipelines.runner import run_cycle

    t0 = time.monotonic()
    outcome = run_cycle(cycle, resources, instance=instance)
    return outcome, progress_line(outcome, time.monotonic() - t0)


def progress_line(outcome, seconds: float) -> str:
    """`done in 3.2 s`, then the checks that did not pass: a failed (error) check is a fault to look
    into; a warning check is a finding to read in the pack (the demo plants some), said apart."""
    checks = "".join(f"; {label}: {', '.join(names)}" for label, names in (
        ("failed checks", outcome.error_checks), ("checks with findings to review", outcome.warning_checks)) if names)
    return f"done in {seconds:.1f} s{checks}"


def _print_outcome(warehouse: Path, reports_dir: Path, cycles: list[str]) -> None:
    from pipelines.lib.lakehouse import is_lake
    from pipelines.lib.warehouse import connect

    if not warehouse.exists():
        return
    con = connect(warehouse, read_only=True)
    try:
        print()
        print(f"{'cycle':<9}{'lines':>9}{'quarantined':>13}{'customers':>11}{'amount due':>16}"
              f"{'customer charge':>18}{'margin':>14}")
        for cycle in cycles:
            lines, quarantined = con.execute(
                """select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0) from audit.loads
                   where source = 'customerBill' and bill_cycle = ?""", [cycle]).fetchone()
            row = con.execute(
                """select count(distinct customer_id), coalesce(sum(amount_due + refund_amount + adjustment_amount), 0),
                          coalesce(sum(customer_charge_amount), 0), coalesce(sum(margin_amount), 0)
                   from marts.customer_monthly_expenditure where bill_cycle = ?""", [cycle]).fetchone()
            print(f"{cycle:<9}{lines:>9,}{quarantined:>13,}{row[0]:>11,}{row[1]:>16,.2f}{row[2]:>18,.2f}{row[3]:>14,.2f}")
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
    published = Path(os.environ.get("BILLRECON_PUBLISHED_WAREHOUSE") or warehouse.parent / "published" / warehouse.name)
    if is_lake(os.environ.get("BILLRECON_WAREHOUSE", "")):
        print(f"Warehouse: the DuckLake of BILLRECON_WAREHOUSE, data in {os.environ.get('BILLRECON_LAKE_DATA_PATH')}  "
              "(analysts attach it read-only: docs/architecture.md)")
    else:
        print(f"Warehouse: {published}  (read-only snapshot for analysts, replaced atomically after each run)")
    print(f"           {warehouse}  (the pipeline's working file)")


def run(args) -> int:
    from pipelines.lib.lake_publish import lake_problem
    from pipelines.settings import resources_from_env, setting

    # command-line options override the environment, and travel to Dagster the same way (EnvVar)
    if args.inbox:
        if not Path(args.inbox).is_dir():
            raise UserError(f"--inbox {args.inbox} is not a folder")
        os.environ["BILLRECON_INBOX_DIR"] = str(Path(args.inbox).resolve())
    if args.warehouse:
        os.environ["BILLRECON_WAREHOUSE"] = args.warehouse
    if args.reports:
        os.environ["BILLRECON_REPORTS_DIR"] = args.reports
    if not (os.environ.get("BILLRECON_S3_ENDPOINT") or os.environ.get("BILLRECON_INBOX_DIR")):
        raise UserError("no file source configured: pass --inbox DIR, or set BILLRECON_S3_ENDPOINT (and the bucket "
                        "and keys) or BILLRECON_INBOX_DIR; see .env.example")
    missing = [name for name in ("BILLRECON_BSS_AK", "BILLRECON_BSS_SK", "BILLRECON_BSS_DOMAIN_ID")
               if os.environ.get("BILLRECON_BSS_ENDPOINT") and not os.environ.get(name)]
    if missing:
        raise UserError(f"BILLRECON_BSS_ENDPOINT is set but not {', '.join(missing)}: set them (see .env.example), "
                        "or unset BILLRECON_BSS_ENDPOINT to run on the files alone")
    problem = lake_problem()  # with a DuckLake: the account, the settings, the catalog, the data path
    if problem:
        raise UserError(problem)
    warehouse, reports_dir = Path(setting("warehouse", "path")), Path(setting("reports", "out_dir"))
    check_request(args.month, warehouse, reports_dir)
    resources = resources_from_env()
    with writing(warehouse):
        outcome, progress = _run_cycle(args.month, resources)
        if not outcome.success:
            # one line; nothing of the failed run is summarised (its marts may not exist yet)
            raise RunFailed(f"{args.month} failed: {outcome.failure}", outcome.details)
        print(f"{args.month} {progress}")
        if not os.environ.get("BILLRECON_BSS_ENDPOINT"):
            print("note: BILLRECON_BSS_ENDPOINT is not set; the parts fed by the BSS partner API are skipped "
                  "(the report says so). Everything fed by the files is built.")
        _print_outcome(warehouse, reports_dir, [args.month])  # under the lease: the next run waits for it
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

    warehouse = warehouse_path(args)
    if not warehouse.exists():
        raise UserError(f"warehouse {warehouse} does not exist: nothing is held")
    check_request(None, warehouse, warehouse.parent)
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
    from pipelines.lib.warehouse import connect
    from pipelines.settings import resources_from_env, setting
    from reports.month_close import render_month_close
    from reports.notes import bill_file_loads, report_notes

    resources = resources_from_env()
    warehouse = Path(args.warehouse or setting("warehouse", "path"))
    out_dir = Path(args.reports or setting("reports", "out_dir"))
    check_request(args.month, warehouse, out_dir)
    if not warehouse.exists():
        raise UserError(f"warehouse {warehouse} does not exist; run `billrecon run --month {args.month}` first")
    with writing(warehouse):  # a run writing meanwhile holds the file, and would write the same pack
        con = connect(warehouse, read_only=True)
        try:
            loads, lines_read = bill_file_loads(con, args.month)
            notes = report_notes(resources["bss_api"].configured, loads > 0, args.month, lines_read)
            written = render_month_close(con, args.month, out_dir / args.month, notes)
        finally:
            con.close()
    print(f"{written.html}\n{written.xlsx}")
    return 0


def sandbox_serve(args) -> int:
    import tempfile

    from sandbox.bss import BssEmulator
    from sandbox.objectstore import LocalS3Server, make_s3_client, upload_tree
    from sandbox.world import generate_world
    from sandbox.writer import write_world

    world = generate_world(_world_config(args))
    with tempfile.TemporaryDirectory(prefix="billrecon-world-") as tmp:
        write_world(world, Path(tmp))
        world.api_data.prepare()
        with LocalS3Server(port=args.port or None) as s3, BssEmulator(world) as bss:
            bucket = "billrecon"
            upload_tree(make_s3_client(s3.endpoint_url, s3.access_key, s3.secret_key), bucket, Path(tmp))
            print(f"BILLRECON_S3_ENDPOINT={s3.endpoint_url}")
            print(f"BILLRECON_S3_BUCKET={bucket}")
            print(f"BILLRECON_S3_ACCESS_KEY={s3.access_key}")
            print(f"BILLRECON_S3_SECRET_KEY={s3.secret_key}")
            # the emulator's own throwaway keys, printed so that `billrecon run` can be pointed at it
            print(f"BILLRECON_BSS_ENDPOINT={bss.endpoint_url}")
            print(f"BILLRECON_BSS_AK={bss.access_key}")
            print(f"BILLRECON_BSS_SK={bss.secret_key}")
            print(f"BILLRECON_BSS_DOMAIN_ID={bss.domain_id}", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("stopping", flush=True)
    return 0
