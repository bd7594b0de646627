"""`billrecon run` over several accounts (billrecon/partner_runs.py): the worst child decides the exit
status, each account is one line, and the selection and parallelism are checked before anything runs."""

import argparse
import os

import pytest

from billrecon.cli import EXIT_BAD_REQUEST, main
from billrecon.partner_runs import AccountRun, forwarded_options, parallel_runs, selected_accounts, worst_status
from billrecon.refusals import UserError


def test_the_exit_status_is_the_worst_childs_in_the_order_0_3_1_2():
    assert worst_status([0, 0]) == 0
    assert worst_status([0, 3, 0]) == 3
    assert worst_status([3, 1, 0]) == 1
    assert worst_status([1, 2, 3]) == 2
    assert worst_status([0, -9]) == 1  # a child killed by a signal counts as failed
    assert worst_status([]) == 0


def test_each_account_is_one_line_with_what_its_run_said_when_it_was_not_clean():
    assert AccountRun("p1", 0, "2026-09 done in 3.0 s\n\nReports: …\n").line() == "p1: done (exit 0)"
    held = AccountRun("p2", 3, "2026-09 done\nHELD: customerBill/a.tar.gz is held: 40% fewer lines\n")
    assert held.line() == "p2: held (exit 3); HELD: customerBill/a.tar.gz is held: 40% fewer lines"
    failed = AccountRun("p3", 1, "billrecon: 2026-09 failed: disk full (full log: w/logs/x.log)\n")
    assert failed.line() == "p3: failed (exit 1): 2026-09 failed: disk full (full log: w/logs/x.log)"


def test_the_selection_keeps_the_order_given_once_each_and_refuses_an_unknown_id():
    assert selected_accounts(None, ["a", "b", "c"], "partners.toml") == ["a", "b", "c"]
    assert selected_accounts(["c", "a", "c"], ["a", "b", "c"], "partners.toml") == ["c", "a"]
    with pytest.raises(UserError) as refused:
        selected_accounts(["a", "x"], ["a", "b"], "partners.toml")
    assert str(refused.value) == ("--partner x is not an account of partners.toml (a, b): give one of those ids, or "
                                  "leave --partner out to run them all")


def test_parallel_runs_come_from_the_option_the_setting_or_the_cores():
    assert parallel_runs(2, {"BILLRECON_MAX_PARALLEL_RUNS": "4"}) == 2
    assert parallel_runs(None, {"BILLRECON_MAX_PARALLEL_RUNS": "4"}) == 4
    assert parallel_runs(None, {}) == os.cpu_count()
    with pytest.raises(UserError, match=r"^BILLRECON_MAX_PARALLEL_RUNS='0' is not a whole number of at least 1$"):
        parallel_runs(None, {"BILLRECON_MAX_PARALLEL_RUNS": "0"})


@pytest.mark.parametrize("given", ["0", "-2", "two"])
def test_the_parallel_option_is_refused_below_one_in_the_settings_words(given, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--month", "2026-08", "--parallel", given])
    assert exit_.value.code == EXIT_BAD_REQUEST
    assert capsys.readouterr().err == (f"billrecon: argument --parallel: {given} is not a whole number of at least 1 "
                                       "(see `billrecon run --help`)\n")


def test_the_options_given_are_given_to_each_accounts_run_a_zero_run_limit_too():
    given = argparse.Namespace(warehouse=None, reports="reports/out", max_runtime=0)
    assert forwarded_options(given) == ["--reports", "reports/out", "--max-runtime", "0"]
    assert forwarded_options(argparse.Namespace(warehouse="ducklake:lake.ducklake", reports=None,
                                                max_runtime=None)) == ["--warehouse", "ducklake:lake.ducklake"]
