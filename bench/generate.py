"""Build the month of one benchmark size once, with the sandbox generator, into the cache.

Runs in its own child process (`bench.child generate`): a 10 M-line month takes about a minute
and several GB to build, and the memory goes back to the OS when the child exits. The world is
written to a temporary folder next to the final one and renamed into place only when complete,
with a manifest saying how it was made; an existing complete world with the same spec is reused.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from bench.common import BILL_CYCLE, DISCOUNTS_KEY, WorldSpec, bill_key, size_label, spec_dict, world_dir
from bench.measure import run_step


def world_is_current(directory: Path, spec: WorldSpec) -> bool:
    """True when `directory` holds a complete world generated from `spec`."""
    manifest = Path(directory) / "manifest.json"
    if not manifest.exists():
        return False
    recorded = json.loads(manifest.read_text(encoding="utf-8"))
    return (recorded.get("spec") == spec_dict(spec)
            and (Path(directory) / bill_key()).exists() and (Path(directory) / DISCOUNTS_KEY).exists())


def cached_world(cache: Path, lines: int, *, regenerate: bool = False, say=print) -> dict:
    """The manifest of the cached month of `lines` lines, generated first (in a measured child process)
    when it is missing, stale or `regenerate` asks; raises SystemExit with the log's path if that fails."""
    label = size_label(lines)
    directory = world_dir(cache, label)
    if not regenerate and world_is_current(directory, WorldSpec(lines=lines)):
        return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    say(f"[{label}] generating the month (once; cached in {directory}) …")
    measured = run_step("generate", {"lines": lines, "out": str(directory)}, Path(cache) / "logs", f"generate-{label}")
    if not measured.ok:
        raise SystemExit(f"[{label}] generation failed: {measured.error} (log: {measured.log})")
    say(f"[{label}]   {measured.result['bill_lines']:,} lines in {measured.seconds:.0f} s")
    return measured.result


def generate_step(args: dict) -> dict:
    """Child-process entry: args = {"lines": N, "out": DIR}; writes the world and its manifest."""
    from sandbox.world import WorldConfig, generate_world
    from sandbox.writer import write_world

    spec = WorldSpec(lines=int(args["lines"]))
    out = Path(args["out"])
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    world = generate_world(WorldConfig(**spec.world_config_kwargs()))
    assert world.closed_months == [BILL_CYCLE], world.closed_months
    rows = world.bill_lines[BILL_CYCLE].height  # built once and kept, so write_world reuses it
    built = time.perf_counter() - started
    write_world(world, partial)
    archive = partial / bill_key()
    manifest = {
        "spec": spec_dict(spec),
        "bill_cycle": BILL_CYCLE,
        "bill_lines": rows,
        "members": -(-rows // spec.member_rows),
        "archive_bytes": archive.stat().st_size,
        "build_seconds": round(built, 2),
        "write_seconds": round(time.perf_counter() - started - built, 2),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return manifest
