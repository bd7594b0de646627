"""billrecon command line: demo, run, accept, report, export, generate, sandbox serve."""

from __future__ import annotations

import argparse
import sys
import traceback

from billrecon import export_command
from billrecon.refusals import REPORTS_HELP, WAREHOUSE_HELP
from schemas.bill_cycle import BillCycle

EXIT_FAILED = 1
EXIT_BAD_REQUEST = 2
MAX_PORT = 65535


def _month(text: str) -> str:
    try:
        return str(BillCycle.parse(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class _Parser(argparse.ArgumentParser):
    """A usage error is one line (what is wrong, where to look), not the usage text."""

    def error(self, message: str):
        self.exit(EXIT_BAD_REQUEST, f"billrecon: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="billrecon", description="Billing reconciliation for HUAWEI CLOUD partners.",
                     epilog="Exit status: 0 done, 1 the run failed, 2 a bad request (option or configuration).")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate a world, start the sandbox, close every month, print where the "
                                       "reports and the warehouse are")
    _world_options(demo)
    demo.add_argument("--warehouse", default="warehouse/billrecon.duckdb", help="warehouse file to (re)create")
    demo.add_argument("--reports", default="reports/out", help="folder for the month-close packs")
    demo.add_argument("--world-dir", default="warehouse/demo-world", help="where the generated files are written")
    demo.add_argument("--dagster-home", default=".dagster_home",
                      help="the Dagster instance that keeps the runs, for `make dev` (default .dagster_home)")
    _anomalies_option(demo, default=DEMO_ANOMALIES)
    demo.add_argument("--lake", nargs="?", const=".demo-lake", metavar="DIR",
                      help="instead: two partner accounts (acme-intl, acme-cn) closed into a DuckLake on a local "
                           "PostgreSQL through `billrecon run` over the accounts, everything in DIR (default "
                           ".demo-lake, replaced; --warehouse, --reports, --world-dir, --dagster-home and "
                           "--header-language do not apply)")

    run = sub.add_parser("run", help="run one bill cycle against the configured sources")
    run.add_argument("--month", type=_month, required=True, help="bill cycle, YYYY-MM")
    run.add_argument("--inbox", help="local folder with the bucket's key layout (instead of the S3 bucket)")
    run.add_argument("--warehouse", help="warehouse file (default BILLRECON_WAREHOUSE or warehouse/billrecon.duckdb); "
                                         "ducklake:… publishes each month to that DuckLake, built in the account's "
                                         "working file (BILLRECON_WORKING_WAREHOUSE)")
    run.add_argument("--reports", help=REPORTS_HELP)
    run.add_argument("--partner", action="append", metavar="ID",
                     help="an account of partners.toml (repeatable; default: every account there)")
    run.add_argument("--parallel", type=_at_least(1), metavar="N",
                     help="accounts run at once (default BILLRECON_MAX_PARALLEL_RUNS or the number of cores)")
    run.add_argument("--max-runtime", type=_at_least(0, "0: no limit"), metavar="SECONDS",
                     help="stop a run still going after this long, as stuck: exit 1, where it was in the log "
                          "(default BILLRECON_MAX_RUNTIME_SECONDS, else 4 h as for the Dagster jobs; 0: no limit)")

    accept = sub.add_parser("accept", help="release a held re-delivery: the next run of its month(s) applies it")
    accept.add_argument("--key", required=True, help="object key of the held delivery, as the run printed it")
    accept.add_argument("--etag", help="the held delivery's ETag (refused if another one is held)")
    accept.add_argument("--warehouse", help=WAREHOUSE_HELP)

    report = sub.add_parser("report", help="render the month-close pack of a cycle from the warehouse")
    report.add_argument("--month", type=_month, required=True, help="bill cycle, YYYY-MM (a month a run has built)")
    report.add_argument("--warehouse", help=WAREHOUSE_HELP)
    report.add_argument("--reports", help=REPORTS_HELP)

    export_command.add_parser(sub, _month)

    generate = sub.add_parser("generate", help="write a synthetic partner world as files")
    _world_options(generate)
    generate.add_argument("--out", required=True, help="folder to write the bucket layout into")
    _anomalies_option(generate, default=0)

    sandbox = sub.add_parser("sandbox", help="the stand-ins for HUAWEI CLOUD")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = sandbox_sub.add_parser("serve", help="start the local S3 server with a generated world until interrupted")
    _world_options(serve)
    serve.add_argument("--port", type=_port, default=0, help="S3 port (default 0: a free one)")
    return parser


def _world_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=_at_least(0), default=7)
    parser.add_argument("--customers", type=_at_least(1), default=40)
    parser.add_argument("--resellers", type=_at_least(0), default=3,
                        help="resellers of the distributor (0: none, a plain CSP)")
    parser.add_argument("--months", type=_at_least(1), default=3, help="closed months (an open month follows them)")
    parser.add_argument("--lines", type=_at_least(1), default=3000, help="bill lines per closed month (approximate)")
    parser.add_argument("--first-month", type=_month,
                        help="first closed month (default: as many months ago as --months, so that the open month "
                             "is this one)")
    parser.add_argument("--header-language", choices=["en", "zh"], default="en")


def _at_least(minimum: int, zero: str | None = None):
    """An option's type: a whole number not below `minimum`; `zero` says what 0 means, where it may be given."""
    meaning = f" ({zero})" if zero else ""

    def whole_number(text: str) -> int:
        value = _whole(text)
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is not a whole number of at least {minimum}{meaning}")
        return value

    return whole_number


def _port(text: str) -> int:
    value = _whole(text)
    if value is None or not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text} is not a port: give 1 to {MAX_PORT}, or 0 (or no --port) for a "
                                         "free one")
    return value


def _whole(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# The demo plants one anomaly of every kind by default, so a first reader sees what each finding looks
# like and what to do about it; 0 gives a clean world.
DEMO_ANOMALIES = 1


def _anomalies_option(parser: argparse.ArgumentParser, default: int) -> None:
    clean = "a clean world" if default == 0 else "one of every kind; 0: a clean world"
    parser.add_argument("--anomalies", type=_at_least(0, "0: a clean world"), default=default, metavar="K",
                        help="plant K anomalies of every kind of docs/reconciliation.md and list them in "
                             f"ground_truth.json at the root of the world folder (default {default}: {clean})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from billrecon.interrupts import Interrupted, interrupted_line, stop_signals_as_interrupts

    with stop_signals_as_interrupts():
        try:
            return _run_command(args)
        except Interrupted as exc:
            return _stopped(str(exc))
        except KeyboardInterrupt:
            return _stopped(interrupted_line(getattr(args, "month", None) or f"`billrecon {args.command}`"))


def _run_command(args) -> int:
    from billrecon import commands, sandbox_commands
    from billrecon.failure_log import report_late_errors_to_the_log
    from billrecon.refusals import UserError
    from pipelines.lib.partners import PartnersConfigError

    report_late_errors_to_the_log()
    handlers = {
        "demo": sandbox_commands.demo,
        "run": commands.run,
        "report": commands.report,
        "accept": commands.accept,
        "export": export_command.run,
        "generate": sandbox_commands.generate,
        "sandbox": sandbox_commands.sandbox_serve,
    }
    try:
        return handlers[args.command](args) or 0
    except (UserError, PartnersConfigError) as exc:
        print(f"billrecon: {exc}", file=sys.stderr)
        return EXIT_BAD_REQUEST
    except Exception as exc:  # noqa: BLE001 - every failure ends as one line; its trace goes to the log
        line, details = commands.failure_of(exc)
        return _failed(args, line, details or traceback.format_exc())


def _stopped(line: str) -> int:
    """A command stopped on purpose: one line and no log (nothing failed)."""
    from billrecon.interrupts import EXIT_INTERRUPTED

    print(f"billrecon: {line}", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def _failed(args, line: str, details: str) -> int:
    from billrecon.commands import warehouse_path
    from billrecon.failure_log import report_failure

    report_failure(warehouse_path(args), line, details)
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
