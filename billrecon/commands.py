"""What each `billrecon` sub-command does. The demo wires the sandbox to the pipeline here, so that
the pipeline itself never imports the sandbox."""

from __future__ import annotations

import os
import shutil
import time
from datetime import date
from pathlib import Path

import duckdb


class UserError(Exception):
    """A problem the user can fix (bad option, missing configuration); shown without a traceback."""


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
    from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
    from sandbox.bss import BssEmulator
    from sandbox.objectstore import LocalS3Server, make_s3_client, upload_tree
    from sandbox.world import generate_world
    from sandbox.writer import write_world

    started = time.monotonic()
    warehouse = Path(args.warehouse)
    world_dir = Path(args.world_dir)
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
        print(f"      BSS API emulator at {bss.endpoint_url} (signed calls, paging, throttling at the documented rates)")
        resources = {
            "object_store": ObjectStoreResource(endpoint_url=s3.endpoint_url, bucket=bucket,
                                                access_key=s3.access_key, secret_key=s3.secret_key),
            "warehouse": WarehouseResource(path=str(warehouse)),
            "reports": ReportsResource(out_dir=args.reports),
            "bss_api": BssApiResource(endpoint=bss.endpoint_url, access_key=bss.access_key,
                                      secret_key=bss.secret_key, domain_id=bss.domain_id),
        }
        cycles = [*world.closed_months, world.open_month]
        print(f"[3/4] closing {len(cycles)} months through the pipeline (files and BSS API → landing → staging → "
              "core → marts → reports)")
        failures = _run_cycles(cycles, resources)
    print("[4/4] sandbox stopped")
    _print_outcome(warehouse, Path(args.reports), cycles)
    print(f"done in {time.monotonic() - started:.0f} s")
    if failures:
        raise UserError(f"{len(failures)} month(s) failed: {'; '.join(failures)}")
    return 0


def _print_planted(world, world_dir: Path) -> None:
    """The planted anomalies, labelled as such: each is a finding the packs will show on purpose."""
    print(f"      {len(world.planted)} anomalies planted on purpose, so the packs show what each finding looks "
          f"like (--anomalies 0 for a clean world); listed in {world_dir / 'ground_truth.json'}:")
    for record in world.ground_truth:
        where = " ".join(str(record[key]) for key in ("bill_cycle", "customer_id", "reference") if record[key])
        amount = f"  {record['amount']}" if record["amount"] is not None else ""
        print(f"        {record['rule_id']:<36} {where}{amount}")


def _run_cycles(cycles: list[str], resources: dict) -> list[str]:
    from pipelines.runner import run_cycle

    failures = []
    for index, cycle in enumerate(cycles, start=1):
        t0 = time.monotonic()
        print(f"      [{index}/{len(cycles)}] {cycle} … ", end="", flush=True)
        outcome = run_cycle(cycle, resources)
        if outcome.success:
            checks = f", failed checks: {', '.join(outcome.failed_checks)}" if outcome.failed_checks else ""
            print(f"done in {time.monotonic() - t0:.1f} s{checks}")
        else:
            print("FAILED")
            print(f"        {outcome.failure}")
            failures.append(f"{cycle}: {outcome.failure}")
    return failures


def _print_outcome(warehouse: Path, reports_dir: Path, cycles: list[str]) -> None:
    from pipelines.lib.warehouse import connect

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
    print(f"Warehouse: {published}  (read-only snapshot for analysts, replaced atomically after each run)")
    print(f"           {warehouse}  (the pipeline's working file)")


def run(args) -> int:
    from pipelines.runner import run_cycle
    from pipelines.resources import ReportsResource, WarehouseResource
    from pipelines.settings import resources_from_env

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
    resources = resources_from_env()
    if not resources["bss_api"].configured:
        print("note: BILLRECON_BSS_ENDPOINT is not set; the parts fed by the BSS partner API are skipped "
              "(the report says so). Everything fed by the files is built.")
    failures = _run_cycles([args.month], resources)
    warehouse = Path(os.environ.get("BILLRECON_WAREHOUSE") or WarehouseResource().path)
    reports_dir = Path(os.environ.get("BILLRECON_REPORTS_DIR") or ReportsResource().out_dir)
    if warehouse.exists():
        _print_outcome(warehouse, reports_dir, [args.month])
    if failures:
        raise UserError(failures[0])
    return 0


def report(args) -> int:
    from pipelines.lib.warehouse import connect
    from pipelines.settings import resources_from_env
    from pipelines.assets.reports import report_notes
    from reports.month_close import render_month_close

    resources = resources_from_env()
    warehouse = args.warehouse or os.environ.get("BILLRECON_WAREHOUSE") or resources["warehouse"].path
    out_dir = Path(args.reports or os.environ.get("BILLRECON_REPORTS_DIR") or resources["reports"].out_dir)
    if not Path(warehouse).exists():
        raise UserError(f"warehouse {warehouse} does not exist; run `billrecon run --month {args.month}` first")
    con = connect(warehouse, read_only=True)
    try:
        loads, lines_read = con.execute(
            "select count(*), coalesce(sum(rows_read), 0) from audit.loads where source = 'customerBill' "
            "and bill_cycle = ?", [args.month]).fetchone()
        notes = report_notes(resources["bss_api"], loads > 0, args.month, lines_read)
        written = render_month_close(con, args.month, out_dir / args.month, notes)
    finally:
        con.close()
    print(f"{written.html}\n{written.xlsx}")
    return 0


def sandbox_serve(args) -> int:
    from sandbox.bss import BssEmulator
    from sandbox.objectstore import LocalS3Server, make_s3_client, upload_tree
    from sandbox.world import generate_world
    from sandbox.writer import write_world
    import tempfile

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
