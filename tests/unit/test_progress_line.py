"""The line `billrecon run` and `demo` print for a month: warning checks are findings to review,
said apart from failed (error) checks, so a planted finding does not read as a broken run."""

from billrecon.commands import progress_line
from pipelines.runner import CycleRun


def test_warning_checks_are_findings_to_review_and_error_checks_failed_checks():
    outcome = CycleRun("2026-10", True, ["a:rows_add_up", "b:validation_findings", "c:findings_by_area"], None,
                       warning_checks=("b:validation_findings", "c:findings_by_area"))
    assert outcome.error_checks == ["a:rows_add_up"]
    assert progress_line(outcome, 3.24) == ("done in 3.2 s; failed checks: a:rows_add_up; checks with findings "
                                            "to review: b:validation_findings, c:findings_by_area")


def test_a_clean_month_says_only_how_long_it_took():
    assert progress_line(CycleRun("2026-10", True, [], None), 12.0) == "done in 12.0 s"
