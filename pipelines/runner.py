"""Runs the assets of one account's bill cycle in-process (used by the `billrecon` command and the tests)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg

from pipelines.definitions import build_definitions, defs
from pipelines.lib.partners import run_partner_id
from pipelines.lib.rerun import ReusedRun
from pipelines.lib.warehouse import SQL_DIR
from pipelines.partitions import partition_key
from pipelines.rerun import last_run, resolved

# The command prints its own progress and its own one-line failures; Dagster's console logger
# stays silent (a failed step would print its stack trace) and the run's events go to the log.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

FAILURE_EVENTS = (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE)


@dataclass(frozen=True)
class CycleRun:
    bill_cycle: str
    success: bool
    failed_checks: list[str]    # every check that did not pass, `asset:check`
    failure: str | None         # one line: the cause and what to do
    details: str = ""           # the run's events and every failure's full trace, for the log
    warning_checks: tuple[str, ...] = ()  # those of failed_checks of severity WARN: findings to read, not faults
    run_id: str | None = None
    reused: ReusedRun | None = None       # nothing new since this run: its outputs were kept, no step ran
    note: str | None = None               # for the log: why the check for nothing new was not made
    interrupted: bool = False             # stopped by Ctrl-C or a stop signal, not by a fault

    @property
    def error_checks(self) -> list[str]:
        return [check for check in self.failed_checks if check not in self.warning_checks]


def all_assets() -> list:
    return list(defs.assets)


def run_cycle(bill_cycle: str, resources: Mapping[str, object], *, partner_id: str | None = None,
              quiet: bool = True, instance: dg.DagsterInstance | None = None, sql_dir: Path = SQL_DIR) -> CycleRun:
    """Materialize every asset for one account's cycle (`partner_id` None: the one account of the
    settings), unless nothing is new since its last successful run, whose outputs are then kept
    (pipelines/rerun.py); returns whether it succeeded and what failed."""
    partner_id = partner_id or run_partner_id()
    # the facts are the account's own: its sources, working file and reports (as its run's resources)
    account_resources = {key: resolved(resource).for_account(partner_id) if hasattr(resource, "for_account")
                         else resource for key, resource in resources.items()}
    with last_run(bill_cycle, account_resources, sql_dir) as last:
        if last.reused is not None:
            checks = last.reused.warning_checks
            return CycleRun(bill_cycle, True, list(checks), None, warning_checks=checks, reused=last.reused)
        outcome = _materialize(bill_cycle, partner_id, resources, quiet, instance, sql_dir)
        if last.unchecked:
            outcome = replace(outcome, note=last.unchecked)
        if outcome.success and not outcome.error_checks:
            last.record(outcome.run_id, outcome.warning_checks)
        return outcome


def _materialize(bill_cycle: str, partner_id: str, resources: Mapping[str, object], quiet: bool,
                 instance: dg.DagsterInstance | None, sql_dir: Path) -> CycleRun:
    result = dg.materialize(
        all_assets() if sql_dir == SQL_DIR else list(build_definitions(sql_dir).assets),
        partition_key=partition_key(bill_cycle, partner_id),
        resources=dict(resources),
        run_config=QUIET if quiet else None,
        instance=instance,
        raise_on_error=False,
    )
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    failed_checks = [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in failed]
    warning_checks = tuple(f"{e.asset_key.to_user_string()}:{e.check_name}" for e in failed
                           if e.severity == dg.AssetCheckSeverity.WARN)
    if result.success:
        return CycleRun(bill_cycle, True, failed_checks, None, warning_checks=warning_checks, run_id=result.run_id)
    errors = [(e.step_key, e.event_specific_data.error) for e in result.all_events
              if e.event_type in FAILURE_EVENTS and getattr(e.event_specific_data, "error", None) is not None]
    # a cause shared by several steps (a full disk) is said once; the run's own failure event
    # repeats its steps' failures and is only read when no step failed (a resource's setup)
    step_errors = [(step, error) for step, error in errors if step is not None] or errors
    lines = list(dict.fromkeys(failure_line(step, error) for step, error in step_errors)) or ["the run failed"]
    failure = lines[0] + (f" (and {len(lines) - 1} other failure(s), in the log)" if len(lines) > 1 else "")
    details = "\n".join([f"run {result.run_id} of {bill_cycle}", "",
                         *(f"{e.step_key or '-'} {e.event_type_value}: {e.message}" for e in result.all_events), "",
                         *(f"{step or 'run'} failed:\n{error.to_string()}" for step, error in errors)])
    stopped = [(step, error) for step, error in step_errors if _interruption(error)]
    if stopped:  # one signal stops the run: the step it stopped in is the whole story
        failure = failure_line(*stopped[0])
    return CycleRun(bill_cycle, False, failed_checks, failure, details, warning_checks, result.run_id,
                    interrupted=bool(stopped))


# how Dagster reports a step stopped by SIGINT (it raises this in the step), or Python itself
_INTERRUPTIONS = {"DagsterExecutionInterruptedError", "KeyboardInterrupt"}


def _interruption(error) -> bool:
    """Whether a step's error is an interruption (Ctrl-C, a stop signal) anywhere in its chain."""
    link = error
    while link is not None:
        if link.cls_name in _INTERRUPTIONS:
            return True
        link = link.cause or link.context
    return False


def failure_line(step: str | None, error) -> str:
    """A dg.Failure's description (an expected failure, already one line), else the root error,
    reported as what it is: a bug."""
    link = error
    while link is not None:
        if link.cls_name == "Failure":
            return _text(link)
        if link.cause is None and link.context is None:
            break
        link = link.cause or link.context
    where = f"step {step}" if step else "the run"
    if _interruption(error):
        return f"in {where}"  # what stopped it is said by the command, which knows the signal
    first_line = next(iter(_text(link).splitlines()), "")[:300]
    return (f"{where} stopped on an unexpected error ({link.cls_name}: {first_line}): "
            "this is a bug in billrecon; please report it with the log")


def _text(error) -> str:
    """The message without the `module.Class: ` prefix the serialized error starts with."""
    message = error.message.strip()
    prefix, separator, rest = message.partition(": ")
    return rest.strip() if separator and prefix.endswith(error.cls_name) else message
