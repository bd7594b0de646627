"""The options of the synthetic world (`generate`, `demo`, `sandbox serve`): a size the world cannot
have, or months outside those the command can use, are refused in one line, exit 2, before anything is
generated, replaced or started."""

from datetime import date

import pytest

from billrecon import sandbox_commands
from billrecon.cli import EXIT_BAD_REQUEST, build_parser, main
from billrecon.refusals import UserError
from pipelines.partitions import FIRST_BILL_CYCLE, bill_cycle_partitions

COMMANDS = {"generate": ["generate", "--out", "world"], "demo": ["demo"], "sandbox serve": ["sandbox", "serve"]}
TOO_SMALL = {
    "--customers": ("0", "0 is not a whole number of at least 1"),
    "--months": ("0", "0 is not a whole number of at least 1"),
    "--lines": ("-5", "-5 is not a whole number of at least 1"),
    "--resellers": ("-1", "-1 is not a whole number of at least 0"),
    "--seed": ("-3", "-3 is not a whole number of at least 0"),
    "--anomalies": ("-1", "-1 is not a whole number of at least 0 (0: a clean world)"),
}


def refused(tmp_path, capsys, argv: list[str]) -> str:
    """The one line a refused command printed; it wrote nothing."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse refuses while parsing
        code = exit_.code
    captured = capsys.readouterr()
    assert (code, captured.out) == (EXIT_BAD_REQUEST, "")
    assert list(tmp_path.iterdir()) == []
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize(("command", "option"), [(command, option) for command in COMMANDS for option in TOO_SMALL
                                                  if not (command == "sandbox serve" and option == "--anomalies")])
def test_a_size_the_world_cannot_have_is_a_usage_error(tmp_path, monkeypatch, capsys, command, option):
    monkeypatch.chdir(tmp_path)
    value, problem = TOO_SMALL[option]
    assert refused(tmp_path, capsys, [*COMMANDS[command], option, value]) == (
        f"billrecon: argument {option}: {problem} (see `billrecon {command} --help`)")


@pytest.mark.parametrize(("port", "problem"), [("-1", "-1"), ("99999", "99999"), ("http", "http")])
def test_a_port_that_is_none_is_a_usage_error(tmp_path, monkeypatch, capsys, port, problem):
    monkeypatch.chdir(tmp_path)
    assert refused(tmp_path, capsys, ["sandbox", "serve", "--port", port]) == (
        f"billrecon: argument --port: {problem} is not a port: give 1 to 65535, or 0 (or no --port) for a free one "
        "(see `billrecon sandbox serve --help`)")


def test_the_smallest_world_is_accepted():
    args = build_parser().parse_args(["generate", "--out", "x", "--seed", "0", "--customers", "1", "--resellers", "0",
                                      "--months", "1", "--lines", "1", "--first-month", "1970-01"])
    config = sandbox_commands.world_config(args)
    assert (config.seed, config.customers, config.resellers, config.closed_months, config.lines_per_month,
            config.first_month) == (0, 1, 0, 1, 1, "1970-01")


WORLD_SPAN = "a world's months, the open one included, lie from 1970-01 to 2242-02, the dates its tar files hold"


@pytest.mark.parametrize(("options", "expected"), [
    (["--first-month", "0001-01"], f"--first-month 0001-01 is before 1970-01: {WORLD_SPAN}: give a later --first-month"),
    (["--first-month", "9999-12"], f"--first-month 9999-12 and --months 3 put the open month after 2242-02: "
                                   f"{WORLD_SPAN}: give an earlier --first-month or fewer --months"),
    (["--first-month", "2242-01", "--months", "2"],
     f"--first-month 2242-01 and --months 2 put the open month after 2242-02: {WORLD_SPAN}: give an earlier "
     "--first-month or fewer --months"),
    (["--months", "100000"], f"--months 100000 starts the world 100000 months before this one, before 1970-01: "
                             f"{WORLD_SPAN}: give fewer --months, or a --first-month"),
])
@pytest.mark.parametrize("command", ["generate", "sandbox serve"])
def test_months_a_world_cannot_date_are_refused(tmp_path, monkeypatch, capsys, command, options, expected):
    monkeypatch.chdir(tmp_path)
    assert refused(tmp_path, capsys, [*COMMANDS[command], *options]) == f"billrecon: {expected}"


def test_the_last_open_month_a_world_can_date_is_accepted():
    args = build_parser().parse_args(["generate", "--out", "x", "--first-month", "2242-01", "--months", "1"])
    assert sandbox_commands.world_config(args).first_month == "2242-01"


def demo_span() -> str:
    keys = bill_cycle_partitions.get_partition_keys()
    return f"the demo closes bill cycles of this pipeline, from {keys[0]} to {keys[-1]} (the open month)"


@pytest.mark.parametrize("lake", [[], ["--lake", "lake"]])
def test_a_demo_outside_the_pipeline_s_bill_cycles_is_refused_before_anything_is_replaced(tmp_path, monkeypatch,
                                                                                          capsys, lake):
    monkeypatch.chdir(tmp_path)
    last = bill_cycle_partitions.get_partition_keys()[-1]
    assert refused(tmp_path, capsys, ["demo", *lake, "--first-month", "2020-01"]) == (
        f"billrecon: --first-month 2020-01 is before {FIRST_BILL_CYCLE}: {demo_span()}: give a later --first-month")
    assert refused(tmp_path, capsys, ["demo", *lake, "--first-month", last, "--months", "1"]) == (
        f"billrecon: --first-month {last} and --months 1 put the open month after {last}: {demo_span()}: give an "
        "earlier --first-month or fewer --months")


def test_the_demo_s_default_first_month_stays_in_the_bill_cycles():
    args = build_parser().parse_args(["demo", "--months", "24"])
    assert sandbox_commands.first_month(args, today=date(2026, 1, 20)) == "2024-01"
    args = build_parser().parse_args(["demo", "--months", "25"])
    with pytest.raises(UserError) as refusal:
        sandbox_commands.first_month(args, today=date(2026, 1, 20))
    assert str(refusal.value) == (f"--months 25 starts the world 25 months before this one, before 2024-01: "
                                  f"{demo_span()}: give fewer --months, or a --first-month")


def test_the_open_month_s_exports_fit_its_days(monkeypatch):
    """On the 31st, a world whose open month is February has exports up to its 28th, not 30 of them."""

    class March31(date):
        @classmethod
        def today(cls):
            return date(2026, 3, 31)

    monkeypatch.setattr(sandbox_commands, "date", March31)
    args = build_parser().parse_args(["generate", "--out", "x", "--first-month", "2026-01", "--months", "1"])
    assert sandbox_commands.world_config(args).usage_export_days == 27
