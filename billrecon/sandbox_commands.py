"""The `billrecon` sub-commands of the synthetic partner world: `generate` writes one as files, `demo`
closes every month of one through the pipeline, `sandbox serve` serves one until interrupted. They
wire the sandbox to the pipeline here, so that the pipeline itself never imports the sandbox."""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path

from billrecon.commands import RunFailed, check_request, print_outcome, run_cycle_with_progress, writing
from billrecon.interrupts import Interrupted, interrupted_line
from schemas.bill_cycle import BillCycle


def world_config(args, first_month: str | None = None):
    from sandbox.world import WorldConfig

    return WorldConfig(
        seed=args.seed, customers=args.customers, resellers=args.resellers, closed_months=args.months,
        lines_per_month=args.lines, first_month=args.first_month or first_month or _months_ago(args.months),
        header_language=args.header_language, usage_export_days=max(1, date.today().day - 1),
        anomalies=getattr(args, "anomalies", 0),   # only `generate` and `demo` offer --anomalies
    )


def _months_ago(count: int, today: date | None = None) -> str:
    return str(BillCycle.of(today or date.today()).shift(-count))


def generate(args) -> int:
    from sandbox.world import generate_world
    from sandbox.writer import write_world

    world = generate_world(world_config(args))
    paths = write_world(world, Path(args.out))
    print(f"wrote {len(paths)} files under {args.out} (closed months {', '.join(world.closed_months)}; "
          f"open month {world.open_month})")
    if world.config.anomalies:
        print(f"planted {len(world.planted)} anomalies, listed in {Path(args.out) / 'ground_truth.json'}")
    return 0


def demo(args) -> int:
    if args.lake:
        from billrecon.lake_demo import demo_lake

        return demo_lake(args)
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

    config = world_config(args)
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
    import tempfile

    from sandbox.bss import BssEmulator
    from sandbox.objectstore import LocalS3Server, make_s3_client, upload_tree
    from sandbox.world import generate_world
    from sandbox.writer import write_world

    world = generate_world(world_config(args))
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
