"""`run_cycle`'s shortcut for a cycle with nothing new since its last successful run: the run's
resources turned into the facts pipelines/lib/rerun.py decides from, the check and the record made
under the warehouse lease, which the run holds from the check to the record."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.lib.failures import ActionableError, describe
from pipelines.lib.lease import LeaseTimeout, hold_lease
from pipelines.lib.partners import FILE_VARIABLE
from pipelines.lib.rerun import ReusedRun, RunFacts, record_run, reusable_run

# never part of the facts (they are stored in the warehouse): the keys of the bucket, the API and the lake
SECRET_FIELDS = frozenset({"access_key", "secret_key", "lake_s3_access_key", "lake_s3_secret_key"})


@dataclass
class LastRun:
    """The cycle's last successful run when nothing is new since (`reused`), and the facts this run
    starts from, recorded with it if it succeeds (None: the BSS API is configured, or the lease is
    held by another run, which this one waits for as usual)."""

    warehouse: Path
    facts: RunFacts | None
    reused: ReusedRun | None = None
    unchecked: str | None = None
    """Why whether anything is new could not be checked (the run then does the whole month)."""

    def record(self, run_id: str, warning_checks: tuple[str, ...]) -> None:
        if self.facts is None:
            return
        try:
            record_run(self.warehouse, self.facts, run_id, warning_checks)
        except (duckdb.Error, OSError, ActionableError):
            pass  # the run succeeded (say, a reader holds the file now); without its record the next run does the work


@contextlib.contextmanager
def last_run(bill_cycle: str, resources: Mapping[str, object], sql_dir: Path) -> Iterator[LastRun]:
    """For the block: the lease on the warehouse when it is free (else the run waits for it as usual),
    the facts the run starts from, and the last run of the cycle when they are unchanged since."""
    warehouse = resolved(resources["warehouse"])
    path = Path(warehouse.path)
    with contextlib.ExitStack() as held:
        facts = reused = unchecked = None
        if not resolved(resources["bss_api"]).configured and _lease_taken(held, path):
            try:
                settings = {key: settings_of(resources[key]) for key in sorted(resources)}
                settings["partners_file"] = partners_file_digest()  # the account row the lake shows
                facts = RunFacts.gather(bill_cycle, resolved(resources["object_store"]).store(), settings, sql_dir,
                                        outputs=(resolved(resources["reports"]).cycle_dir(bill_cycle),
                                                 warehouse.published.parent))
                reused = reusable_run(path, facts)
            except Exception as exc:  # noqa: BLE001 - facts that cannot be gathered tell nothing: the run runs, and says why
                facts = reused = None
                cause = describe(exc) or (str(exc).splitlines() or [""])[0] or type(exc).__name__
                unchecked = f"whether anything is new could not be checked ({cause}), so the whole month ran"
        yield LastRun(path, facts, reused, unchecked)


def _lease_taken(held: contextlib.ExitStack, warehouse: Path) -> bool:
    try:
        held.enter_context(hold_lease(warehouse, 0))
    except LeaseTimeout:
        return False
    return True


def partners_file_digest() -> str | None:
    """The content of BILLRECON_PARTNERS_FILE (it names the variables that hold keys, never a key)."""
    path = os.environ.get(FILE_VARIABLE)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None


def resolved(resource):
    """A copy of a resource with each `EnvVar` field replaced by its value (Dagster resolves them only
    inside a run; an unset variable leaves the field's default)."""
    values = {name: value.get_value() if callable(getattr(value, "get_value", None)) else value
              for name, value in vars(resource).items() if name in type(resource).model_fields}
    return type(resource)(**{name: value for name, value in values.items() if value is not None})


def settings_of(resource) -> dict[str, object]:
    """Every setting of a resource but its secrets: what the outputs of a run may depend on."""
    values = vars(resolved(resource))
    return {name: values[name] for name in sorted(type(resource).model_fields) if name not in SECRET_FIELDS}
