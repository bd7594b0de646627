"""The `billrecon` sub-commands of the synthetic partner world: `generate` writes one as files, `demo`
closes every month of one through the pipeline, `sandbox serve` serves one until interrupted. They
wire the sandbox to the pipeline here, so that the pipeline itself never imports the sandbox."""

from __future__ import annotations

import os
import shutil
import time
from datetime import date
from pathlib import Path

from billrecon.commands import RunFailed, print_outcome, run_cycle_with_progress, writing
from billrecon.interrupts import Interrupted, interrupted_line
from billrecon.refusals import (
    REPORTS_GIVEN,
    WAREHOUSE_GIVEN,
    UserError,
    check_folder,
    check_given,
    check_request,
    settings_line,
)
from schemas.bill_cycle import BillCycle


def world_config(args):
    from sandbox.world import WorldConfig

    first = first_month(args)
    # the open month's exports so far (its 2nd to today), within the open month's days
    export_days = min(max(1, date.today().day - 1), BillCycle.parse(first).shift(args.months).days - 1)
    return WorldConfig(
        seed=args.seed, customers=args.customers, resellers=args.resellers, closed_months=args.months,
        lines_per_month=args.lines, first_month=first,
        header_language=args.header_language, usage_export_days=export_days,
        anomalies=getattr(args, "anomalies", 0),   # only `generate` and `demo` offer --anomalies
    )


def first_month(args, today: date | None = None) -> str:
    """The world's first closed month: --first-month, else --months before this month (the open month is
    then this one). A UserError when the world's months, the open one included, leave those the command
    can use: the bill cycles of the pipeline for `demo`, else the months a world's files can date."""
    from billrecon.refusals import bill_cycle_span
    from sandbox.world import FIRST_WORLD_MONTH, LAST_WORLD_MONTH

    if args.command == "demo":
        lowest, highest = bill_cycle_span()
        allowed = f"the demo closes bill cycles of this pipeline, from {lowest} to {highest} (the open month)"
    else:
        lowest, highest = FIRST_WORLD_MONTH, LAST_WORLD_MONTH
        allowed = (f"a world's months, the open one included, lie from {lowest} to {highest}, the dates its tar "
                   "files hold")
    lowest, highest = BillCycle.parse(lowest), BillCycle.parse(highest)
    months = args.months
    if args.first_month is None:
        this = BillCycle.of(today or date.today())
        if months > _months_between(lowest, this):
            raise UserError(f"--months {months} starts the world {months} months before this one, before {lowest}: "
                            f"{allowed}: give fewer --months, or a --first-month")
        if this > highest:
            raise UserError(f"this month, {this}, the open month of a world without --first-month, is after "
                            f"{highest}: {allowed}: give a --first-month")
        return str(this.shift(-months))
    first = BillCycle.parse(args.first_month)
    if first < lowest:
        raise UserError(f"--first-month {first} is before {lowest}: {allowed}: give a later --first-month")
    if months > _months_between(first, highest):
        raise UserError(f"--first-month {first} and --months {months} put the open month after {highest}: "
                        f"{allowed}: give an earlier --first-month or fewer --months")
    return str(first)


def _months_between(start: BillCycle, end: BillCycle) -> int:
    """How many months `end` is after `start`."""
    return (end.year - start.year) * 12 + end.month - start.month


def generate(args) -> int:
    from pipelines.lib.failures import writing_into
    from sandbox.world import generate_world
    from sandbox.writer import write_world

    check_given(args.out, "--out", "the path of a folder (it is created when missing)")
    check_folder(Path(args.out), "--out")  # before the world is generated, which takes a while
    world = generate_world(world_config(args))
    with writing_into({args.out: "--out"}):  # a folder that fails after the check above
        paths = write_world(world, Path(args.out))
    print(f"wrote {len(paths)} files under {args.out} (closed months {', '.join(world.closed_months)}; "
          f"open month {world.open_month})")
    if world.config.anomalies:
        print(f"planted {len(world.planted)} anomalies, listed in {Path(args.out) / 'ground_truth.json'}")
    return 0


def demo(args) -> int:
    from pipelines.lib.lakehouse import is_lake
    from schemas.memory import MEMORY_VARIABLE, budget_problem

    config = world_config(args)  # refuses, before anything is replaced, months the pipeline has no cycle for
    if not args.lake and is_lake(args.warehouse):
        raise UserError("--warehouse names a DuckLake (ducklake:…), but the demo (re)creates a DuckDB file there: "
                        "give the path of a file, or run `billrecon demo --lake [DIR]` for the demo on a DuckLake")
    # the demo's runs keep to the machine's budget as `run`'s do; refused as `run` refuses it, before
    # anything is replaced (with --lake, only its own runs would refuse it, one month after another)
    budget = os.environ.get(MEMORY_VARIABLE)
    problem = budget_problem(budget) if budget else None
    if problem:
        raise UserError(settings_line([f"{MEMORY_VARIABLE}={problem}"]))
    if args.lake is not None:
        from billrecon.lake_demo import demo_lake

        return demo_lake(args)
    # "" would be the current folder, which the demo would empty as its world folder
    check_given(args.warehouse, "--warehouse", WAREHOUSE_GIVEN)
    check_given(args.reports, "--reports", REPORTS_GIVEN)
    for option, value in (("--world-dir", args.world_dir), ("--dagster-home", args.dagster_home)):
        check_given(value, option, f"the path of a folder, or leave {option} out for its default")
    started = time.monotonic()
    warehouse = Path(args.warehouse)
    world_dir = Path(args.world_dir)
    check_request(None, warehouse, Path(args.reports))
    check_folder(world_dir, "--world-dir")
    check_folder(Path(args.dagster_home), "--dagster-home")
    with writing(warehouse):
        return _demo(args, config, warehouse, world_dir, started)


# The demo replaces its world folder, warehouse file and landing folder; it recognises what it made (an
# earlier release's world has no marker, but only the world's own names) and refuses anything else: a
# --world-dir of ".", or a --warehouse naming a partner's real warehouse, would otherwise be deleted.
DEMO_BUCKET = "billrecon-demo"
WORLD_MARKER = ".billrecon-demo-world"
LANDING_NAMES = ("objects", "api")


def _check_replaceable(world_dir: Path, warehouse: Path, landing: Path) -> None:
    from sandbox.formats import WORLD_ROOT_NAMES

    if world_dir.is_dir():
        names = {path.name for path in world_dir.iterdir()}
        if WORLD_MARKER not in names and not names <= WORLD_ROOT_NAMES:
            raise UserError(f"--world-dir {world_dir} holds files the demo did not write "
                            f"({_some(names - WORLD_ROOT_NAMES)}), and the demo empties its world folder: give a new "
                            "or empty folder, or remove that one")
    foreign = _not_the_demos(warehouse, world_dir)
    if foreign:
        raise UserError(f"--warehouse {warehouse} {foreign}, and the demo deletes its warehouse to start again: give "
                        "the path of a new file, or remove that one yourself if it may go")
    if landing.is_dir():
        names = {path.name for path in landing.iterdir() if not path.name.startswith(".incoming-")}
        if not names <= set(LANDING_NAMES):
            raise UserError(f"{landing}, beside --warehouse {warehouse}, holds files the pipeline did not land "
                            f"({_some(names - set(LANDING_NAMES))}), and the demo empties it: put the demo's warehouse "
                            "in a folder of its own")


def _not_the_demos(warehouse: Path, world_dir: Path) -> str | None:
    """What makes `warehouse` something other than a demo's warehouse (None: missing, empty, or a demo's):
    files landed from another bucket, or tables of someone else's with rows. Files landed from the demo's
    world folder itself (`billrecon run --inbox` on it) are the demo's too."""
    import duckdb

    from pipelines.lib.warehouse import connect

    if not warehouse.is_file():
        return None
    con = connect(warehouse, read_only=True)
    try:
        sizes = {f"{schema}.{name}": rows for schema, name, rows in con.execute(
            "select schema_name, table_name, estimated_size from duckdb_tables()").fetchall()}
        if "landing.objects" not in sizes:  # no billrecon warehouse: someone else's, unless it is empty
            filled = {name for name, rows in sizes.items() if rows}
            return f"holds tables a demo did not make ({_some(filled)})" if filled else None
        sources = [uri for (uri,) in con.execute(
            "select distinct source_uri from landing.objects where source_uri not in (?, ?) order by 1",
            [f"s3://{DEMO_BUCKET}", f"file://{world_dir.resolve().name}"]).fetchall()]
    except duckdb.Error:
        return "cannot be read as a demo's warehouse"
    finally:
        con.close()
    return f"holds files landed from {_some(set(sources))}, not from the demo" if sources else None


def _some(names: set[str]) -> str:
    shown = sorted(names)[:3]
    return ", ".join(shown) + (f" and {len(names) - len(shown)} more" if len(names) > len(shown) else "")


def _demo(args, config, warehouse: Path, world_dir: Path, started: float) -> int:
    from pipelines.instance import project_instance
    from pipelines.lib.failures import writing_into
    from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
    from pipelines.settings import setting
    from sandbox.bss import BssEmulator
    from sandbox.objectstore import LocalS3Server, make_s3_client, upload_tree
    from sandbox.world import generate_world
    from sandbox.writer import write_world

    # the demo starts from nothing: a fresh world, warehouse and landing folder; only ones a demo made
    landing = warehouse.parent / "landing"
    _check_replaceable(world_dir, warehouse, landing)
    for stale in (world_dir, landing):
        shutil.rmtree(stale, ignore_errors=True)
    warehouse.unlink(missing_ok=True)

    print(f"[1/4] generating a partner world (seed {config.seed}, {config.customers} customers, "
          f"{config.closed_months} closed months from {config.first_month}, ~{config.lines_per_month} lines/month)")
    world = generate_world(config)
    with writing_into({world_dir: "--world-dir"}):
        paths = write_world(world, world_dir)
        (world_dir / WORLD_MARKER).write_text("made by `billrecon demo`, which replaces this folder\n")
    print(f"      {len(paths)} files written under {world_dir}")
    if config.anomalies:
        _print_planted(world, world_dir)

    world.api_data.prepare()  # the emulator answers from this; built now rather than on the first request
    with LocalS3Server() as s3, BssEmulator(world) as bss:
        bucket = DEMO_BUCKET
        client = make_s3_client(s3.endpoint_url, s3.access_key, s3.secret_key)
        keys = upload_tree(client, bucket, world_dir)
        print(f"[2/4] local S3 server at {s3.endpoint_url}: {len(keys)} objects in bucket {bucket}")
        print(f"      BSS API emulator at {bss.endpoint_url} "
              "(signed calls, paging, throttling at the documented rates)")
        resources = {
            "object_store": ObjectStoreResource(endpoint_url=s3.endpoint_url, bucket=bucket,
                                                access_key=s3.access_key, secret_key=s3.secret_key),
            "warehouse": WarehouseResource(path=str(warehouse), memory_limit=setting("warehouse", "memory_limit")),
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
                outcome, progress = run_cycle_with_progress(cycle, resources, instance)
                if outcome.interrupted:  # the months after it are not run
                    print("interrupted")
                    raise Interrupted(interrupted_line(f"the demo ({cycle})", outcome.failure))
                print(progress if outcome.success else f"FAILED: {outcome.failure}")
                if not outcome.success:
                    failed.append(outcome)
        finally:
            instance.dispose()
    print("[4/4] sandbox stopped")
    print_outcome(warehouse, Path(args.reports), cycles)
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


def sandbox_serve(args) -> int:
    import errno
    import tempfile

    from sandbox.bss import BssEmulator
    from sandbox.objectstore import LocalS3Server, make_s3_client, upload_tree
    from sandbox.world import generate_world
    from sandbox.writer import write_world

    config = world_config(args)
    s3 = LocalS3Server(port=args.port)  # 0: a free port
    try:
        s3.start()  # first: a port that cannot be had is said before the world is generated
    except OSError as exc:
        taken = "is in use by another program" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        raise UserError(f"--port {args.port} {taken}: choose another port, or leave --port out for a free one") \
            from None
    with s3, tempfile.TemporaryDirectory(prefix="billrecon-world-") as tmp:
        world = generate_world(config)
        write_world(world, Path(tmp))
        world.api_data.prepare()
        with BssEmulator(world) as bss:
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
            print(f"BILLRECON_BSS_DOMAIN_ID={bss.domain_id}")
            print("serving until Ctrl-C", flush=True)
            try:
                while True:
                    # short sleeps: the OS may hand Ctrl-C to a server thread, and Python only acts on it
                    # once the main thread wakes (a sleep of an hour once kept the test's Ctrl-C waiting)
                    time.sleep(0.5)
            except KeyboardInterrupt:
                print("stopping", flush=True)
    return 0
