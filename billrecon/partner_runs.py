"""`billrecon run` over the accounts of partners.toml: each selected account's month as its own
`billrecon run` child process (its own working file, lease and reports folder), several at once, one
line per account as it finishes, then a summary. The exit status is the worst of the children's."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from billrecon.commands import EXIT_HELD
from billrecon.refusals import INBOX_REFUSED, UserError

PARALLEL_VARIABLE = "BILLRECON_MAX_PARALLEL_RUNS"
# worst last: a month held back is better than a failed run, and a request that could not start
# (a setting missing) is the worst, as nothing of the account's month was even tried
_SEVERITY = (0, EXIT_HELD, 1, 2)
_OUTCOMES = {0: "done", EXIT_HELD: "held", 1: "failed", 2: "refused"}


@dataclass(frozen=True)
class AccountRun:
    partner_id: str
    status: int
    output: str

    @property
    def outcome(self) -> str:
        return _OUTCOMES.get(self.status, "failed")

    def line(self) -> str:
        """One line: the outcome and, for anything but a clean run, the child's own last line."""
        lines = [line for line in self.output.splitlines() if line.strip()]
        said = f": {lines[-1].removeprefix('billrecon: ')}" if self.status and lines else ""
        if self.status == EXIT_HELD:
            said = "; " + "; ".join(line for line in lines if line.startswith("HELD: "))
        return f"{self.partner_id}: {self.outcome} (exit {self.status}){said}"


def worst_status(statuses: list[int]) -> int:
    """0 < 3 (held) < 1 (failed) < 2 (refused); any other code (a child killed) counts as 1."""
    known = [status if status in _SEVERITY else 1 for status in statuses]
    return max(known, key=_SEVERITY.index, default=0)


def selected_accounts(requested: list[str] | None, configured: list[str], source: str) -> list[str]:
    """The --partner ids in order, once each (default: every configured account); an unknown id is
    one line."""
    if not requested:
        return configured
    unknown = [partner for partner in requested if partner not in configured]
    if unknown:
        raise UserError(f"--partner {unknown[0]} is not an account of {source} ({', '.join(configured)}): "
                        "give one of those ids, or leave --partner out to run them all")
    return list(dict.fromkeys(requested))


def parallel_runs(option: int | None, environ) -> int:
    if option is not None:
        return option
    text = (environ.get(PARALLEL_VARIABLE) or "").strip()
    if not text:
        return os.cpu_count() or 1
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"{PARALLEL_VARIABLE}={text!r} is not a whole number of at least 1")
    return int(text)


def forwarded_options(args) -> list[str]:
    """The options given to the run, given to each account's run as well: their values reach it in the
    environment too, but then its refusals would name the variable instead of the option."""
    given = (("--warehouse", args.warehouse), ("--reports", args.reports), ("--max-runtime", args.max_runtime))
    return [text for option, value in given if value is not None for text in (option, str(value))]


def run_accounts(args) -> int:
    """Run args.month for each selected account, at most --parallel at once."""
    from pipelines.lib.partners import FILE_VARIABLE, PARTNER_VARIABLE, PartnersConfigError, load_partners

    if args.inbox:
        raise UserError(INBOX_REFUSED)
    try:
        configured = [partner.id for partner in load_partners(os.environ)]
    except PartnersConfigError as exc:
        raise UserError(str(exc)) from None
    accounts = selected_accounts(args.partner, configured, os.environ[FILE_VARIABLE])
    parallel = parallel_runs(args.parallel, os.environ)
    command = [sys.executable, "-m", "billrecon.cli", "run", "--month", args.month, *forwarded_options(args)]
    print(f"{args.month}: {len(accounts)} account(s), up to {parallel} at once", flush=True)

    def run_one(partner_id: str) -> AccountRun:
        done = subprocess.run(command, env={**os.environ, PARTNER_VARIABLE: partner_id}, capture_output=True,
                              text=True, check=False)
        return AccountRun(partner_id, done.returncode, done.stdout + done.stderr)

    finished = []
    with ThreadPoolExecutor(max_workers=min(parallel, len(accounts))) as pool:
        for future in as_completed([pool.submit(run_one, partner_id) for partner_id in accounts]):
            finished.append(future.result())
            print(finished[-1].line(), flush=True)
    counts = Counter(run.outcome for run in finished)
    status = worst_status([run.status for run in finished])
    tally = ", ".join(f"{counts[outcome]} {outcome}" for outcome in ("done", "held", "failed", "refused")
                      if counts[outcome])
    print(f"{args.month}: {len(finished)} account(s): {tally}; exit {status}")
    return status
